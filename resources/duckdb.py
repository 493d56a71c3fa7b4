"""DuckDB connections that read and write the object store without downloading anything at run time."""
from __future__ import annotations

from pathlib import Path

import duckdb
import duckdb_ext

from resources.object_store import ObjectStoreResource

# The duckdb-ext-* wheels install extension binaries here (extensions/v<version>/<platform>/).
EXTENSION_DIRECTORY = Path(duckdb_ext.__path__[0]) / "extensions"


def connect(store: ObjectStoreResource, database: str = ":memory:", threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with httpfs loaded from the installed wheels and an S3 secret for `store`."""
    config: dict[str, object] = {
        "extension_directory": str(EXTENSION_DIRECTORY),
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": True,
    }
    if threads:
        config["threads"] = threads
    con = duckdb.connect(database, config=config)
    con.execute("LOAD httpfs")
    con.execute("SET TimeZone = 'UTC'")  # time buckets and dates are UTC whatever the machine says
    con.execute(
        """CREATE OR REPLACE SECRET lakehouse_s3 (
               TYPE s3, KEY_ID $key, SECRET $secret, REGION $region,
               ENDPOINT $endpoint, URL_STYLE 'path', USE_SSL $ssl)""",
        {"key": store.access_key, "secret": store.secret_key, "region": store.region,
         "endpoint": store.host_port, "ssl": store.use_ssl},
    )
    return con
