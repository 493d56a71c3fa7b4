"""DuckDB connections that read and write the object store without downloading anything at run time."""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb
import duckdb_ext

from resources.object_store import ObjectStoreResource

# The duckdb-ext-* wheels install extension binaries here (extensions/v<version>/<platform>/).
EXTENSION_DIRECTORY = Path(duckdb_ext.__path__[0]) / "extensions"


def connect(
    store: ObjectStoreResource,
    database: str = ":memory:",
    threads: int | None = None,
    memory_limit: str = "",
    temp_directory: str = "",
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with httpfs loaded from the installed wheels and an S3 secret for `store`; with a
    memory limit, what does not fit spills to `temp_directory` (default: a folder in the system's temp)."""
    config: dict[str, object] = {
        "extension_directory": str(EXTENSION_DIRECTORY),
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": True,
    }
    if threads:
        config["threads"] = threads
    if memory_limit:
        config["memory_limit"] = memory_limit
        config["temp_directory"] = temp_directory or str(Path(tempfile.gettempdir()) / "lakehouse-duckdb")
    con = duckdb.connect(database, config=config)
    con.execute("LOAD httpfs")
    con.execute("SET TimeZone = 'UTC'")  # time buckets and dates are UTC whatever the machine says
    con.execute(
        """CREATE OR REPLACE SECRET lakehouse_s3 (
               TYPE s3, KEY_ID $key, SECRET $secret, REGION $region,
               ENDPOINT $endpoint, URL_STYLE 'path', USE_SSL $ssl)""",
        {
            "key": store.access_key,
            "secret": store.secret_key,
            "region": store.region,
            "endpoint": store.host_port,
            "ssl": store.use_ssl,
        },
    )
    return con
