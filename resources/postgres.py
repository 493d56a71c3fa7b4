"""Postgres, where the gold tables and the dashboard's views live."""

from __future__ import annotations

import psycopg
from dagster import ConfigurableResource, InitResourceContext

from resources.migrations import apply_migrations


class PostgresResource(ConfigurableResource):
    """Postgres connection (PG_URL). Every run (and sensor tick) that uses it first brings the schema up to date
    (dbt_like_sql/migrations): once per process, not in each asset."""

    url: str

    def setup_for_execution(self, context: InitResourceContext) -> None:
        apply_migrations(self.url)

    def connect(self, autocommit: bool = False) -> psycopg.Connection:
        """A new connection; use it as a context manager."""
        return psycopg.connect(self.url, autocommit=autocommit, connect_timeout=10)
