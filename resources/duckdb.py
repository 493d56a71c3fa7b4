"""DuckDB connections that read and write the object store without downloading anything at run time, and the
resource that gives each run one of them."""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

import duckdb
import duckdb_ext
from dagster import ConfigurableResource
from pydantic import Field, PrivateAttr

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


class DuckDBResource(ConfigurableResource):
    """DuckDB for the SQL models: its memory limit and spill folder (DUCKDB_MEMORY_LIMIT, DUCKDB_TEMP_DIRECTORY),
    and one session per run that the run's model steps share: opening one (httpfs, the object store's secret)
    costs about 0.2 s, paid once per run instead of once per model. Dagster gives each run its own copy of the
    resource; the session closes with it (DuckDB closes a connection it collects). No teardown hook on purpose:
    Dagster would then refuse `process_config_and_initialize()`, which the tests and benches use."""

    memory_limit: str = Field("2GB", description="DuckDB's memory_limit; beyond it DuckDB spills to disk")
    temp_directory: str = Field("", description="Where DuckDB spills (empty: a folder in the system's temp)")
    _sessions: dict = PrivateAttr(default_factory=dict)

    def session(self, store: ObjectStoreResource) -> duckdb.DuckDBPyConnection:
        """The run's session on `store`, opened on first use. Callers drop the temp tables they create."""
        key = _key(store)
        if key not in self._sessions:
            self._sessions[key] = connect(store, memory_limit=self.memory_limit, temp_directory=self.temp_directory)
        return self._sessions[key]

    def discard(self, store: ObjectStoreResource) -> None:
        """Close the session on `store` after a DuckDB error, so the next model starts from a fresh one."""
        con = self._sessions.pop(_key(store), None)
        if con is not None:
            con.close()


def _key(store: ObjectStoreResource) -> tuple:
    """Sessions by store and thread: a DuckDB connection must not be used by two threads at once."""
    return (store.endpoint, store.bucket, store.access_key, threading.get_ident())
