"""Postgres, where the gold tables and the dashboard's views live."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from dagster import ConfigurableResource, InitResourceContext
from psycopg.pq import TransactionStatus

from resources.migrations import apply_migrations

IDLE_PER_DATABASE = 2  # a models pass holds at most two at once (its lock, a query): keep that many per database

_idle: dict[str, list[psycopg.Connection]] = {}  # url -> this process's idle connections, in autocommit
_idle_lock = threading.Lock()
_inherited: list[psycopg.Connection] = []  # a forked child's copies of its parent's: never used, never closed


class PostgresResource(ConfigurableResource):
    """Postgres connection (PG_URL). Every run (and sensor tick) that uses it first brings the schema up to date
    (dbt_like_sql/migrations): once per process, not in each asset.

    A process reuses the connections it finished with: a models run asks for about forty (a lock, a batch, the
    registry, per model) and a new one costs about 20 ms, half of a 10k-event run. psycopg_pool was not used
    (docs/decisions.md): with the server down it waits out its timeout and reports a PoolTimeout, where a new
    connection fails at once with the server's own reason."""

    url: str

    def setup_for_execution(self, context: InitResourceContext) -> None:
        apply_migrations(self.url)

    @contextmanager
    def connect(self, autocommit: bool = False) -> Iterator[psycopg.Connection]:
        """A connection for the block, committed at its end, rolled back and closed when the block raises (as
        `with psycopg.connect()` does); a cleanly finished one is reset and kept for the next call."""
        conn = _reuse(self.url, autocommit) or psycopg.connect(
            # no prepared statements: the reset (DISCARD ALL) drops them behind psycopg's back
            self.url,
            autocommit=autocommit,
            connect_timeout=10,
            prepare_threshold=None,
        )
        try:
            yield conn
            if not conn.closed:
                conn.commit()
        except BaseException:
            conn.close()
            raise
        _keep(self.url, conn)


def _reuse(url: str, autocommit: bool) -> psycopg.Connection | None:
    """An idle connection to `url` that still answers (a server restart ends them all), else None."""
    while True:
        with _idle_lock:
            kept = _idle.get(url)
            if not kept:
                return None
            conn = kept.pop()
        try:
            conn.execute("")  # a round trip, no transaction (idle connections are in autocommit)
            conn.autocommit = autocommit
            return conn
        except psycopg.Error:
            conn.close()


def _keep(url: str, conn: psycopg.Connection) -> None:
    """Keep a connection its caller finished with, without what the caller left in the session (SET values,
    advisory locks, temporary tables, prepared statements), unless enough are kept already."""
    try:
        if conn.closed or conn.info.transaction_status != TransactionStatus.IDLE:
            conn.close()
            return
        conn.autocommit = True
        conn.execute("DISCARD ALL")
    except psycopg.Error:
        conn.close()
        return
    with _idle_lock:
        kept = _idle.setdefault(url, [])
        if len(kept) < IDLE_PER_DATABASE:
            kept.append(conn)
            return
    conn.close()


def _forget_parents_connections() -> None:
    """In a forked child: the idle connections are the parent's, over sockets the child shares. Using or closing
    one would end the parent's session, so each socket's descriptor is pointed at /dev/null (what the child's copy
    may send at exit goes nowhere) and the objects are kept, never closed."""
    global _idle_lock
    _idle_lock = threading.Lock()  # another thread may have held it at the fork
    parents = [conn for kept in _idle.values() for conn in kept]
    _idle.clear()
    if not parents:
        return
    _inherited.extend(parents)
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        for conn in parents:
            try:
                os.dup2(devnull, conn.pgconn.socket)
            except (OSError, psycopg.Error):
                pass
    finally:
        os.close(devnull)


os.register_at_fork(after_in_child=_forget_parents_connections)
