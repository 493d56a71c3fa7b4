"""The application database change data capture reads, as its CDC role sees it (replication slots, WAL)."""

from __future__ import annotations

import psycopg
from dagster import ConfigurableResource

from resources.settings import DEFAULTS


class CdcSourceResource(ConfigurableResource):
    """Where the captured database is (as Kafka Connect reaches it too) and the CDC role (CDC_PG_USER /
    CDC_PG_PASSWORD): the role that owns the connector's replication slot, so it may drop it."""

    host: str
    port: int = 5432
    dbname: str
    user: str
    password: str
    # The slot check's limit of retained WAL unless its run config says otherwise (CDC_SLOT_MAX_RETAINED_BYTES).
    max_retained_bytes: int = int(DEFAULTS["CDC_SLOT_MAX_RETAINED_BYTES"])

    def connect(self) -> psycopg.Connection:
        """A new autocommit connection as the CDC role; use it as a context manager."""
        return psycopg.connect(
            host=self.host,
            port=self.port,
            dbname=self.dbname,
            user=self.user,
            password=self.password,
            autocommit=True,
            connect_timeout=10,
        )
