"""Postgres, where the gold tables and the dashboard's views live."""
from __future__ import annotations

import psycopg
from dagster import ConfigurableResource


class PostgresResource(ConfigurableResource):
    """Postgres connection (PG_URL)."""

    url: str

    def connect(self, autocommit: bool = False) -> psycopg.Connection:
        """A new connection; use it as a context manager."""
        return psycopg.connect(self.url, autocommit=autocommit, connect_timeout=10)
