"""The Postgres of the stack: the platform's role and database, and schema migrations that re-run harmlessly."""

from __future__ import annotations

import os
import time

import psycopg
import pytest

import resources.postgres as postgres_module
from resources.migrations import apply_migrations


def test_de_user_connects_to_de_db(resources):
    with resources["postgres"].connect() as conn:
        user, db = conn.execute("SELECT current_user, current_database()").fetchone()
    assert (user, db) == ("de_user", "de_db")


def test_migrations_apply_twice_without_error(resources):
    url = resources["postgres"].url
    apply_migrations(url)  # whatever the stack already applied
    assert apply_migrations(url) == []  # the second run applies nothing and does not fail
    with resources["postgres"].connect() as conn:
        assert conn.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = 'app'").fetchone()
        applied = conn.execute("SELECT count(*) FROM public.schema_migrations").fetchone()[0]
    assert applied >= 1


def _backend(conn) -> int:
    return conn.execute("SELECT pg_backend_pid()").fetchone()[0]


def test_a_finished_connection_is_reused_without_what_its_caller_left_in_the_session(resources):
    postgres = resources["postgres"]
    with postgres.connect(autocommit=True) as conn:
        first = _backend(conn)
        conn.execute("SET lock_timeout = '7s'")
        conn.execute("SELECT pg_advisory_lock(hashtext('test_postgres:reuse'))")
    with postgres.connect() as conn:
        assert _backend(conn) == first  # reused, not a new connection
        assert conn.execute("SHOW lock_timeout").fetchone()[0] == "0"
        conn.execute("CREATE TEMP TABLE reuse_probe (x int)")  # in a transaction: committed at the block's end
    with psycopg.connect(postgres.url, autocommit=True) as other:  # the advisory lock went with the reset
        assert other.execute("SELECT pg_try_advisory_lock(hashtext('test_postgres:reuse'))").fetchone()[0]
    with postgres.connect() as conn:
        assert conn.execute("SELECT to_regclass('pg_temp.reuse_probe')").fetchone()[0] is None


def test_statements_run_many_times_work_on_a_reused_connection(resources):
    """The reset drops the session's prepared statements: a client that had prepared some would then name
    statements the server no longer has ("prepared statement _pg3_0 does not exist")."""
    for attempt in range(3):
        with resources["postgres"].connect() as conn, conn.cursor() as cur:
            cur.execute("CREATE TEMP TABLE many (x int) ON COMMIT DROP")
            cur.executemany("INSERT INTO many VALUES (%s)", [(n,) for n in range(10)])
            assert cur.execute("SELECT count(*) FROM many").fetchone()[0] == 10, attempt


def test_a_connection_that_failed_its_block_is_not_reused(resources):
    postgres = resources["postgres"]
    with pytest.raises(psycopg.errors.DivisionByZero), postgres.connect() as conn:
        failed = _backend(conn)
        conn.execute("SELECT 1 / 0")
    with postgres.connect() as conn:
        assert _backend(conn) != failed


def test_an_idle_connection_the_server_ended_is_replaced(resources):
    """A server restart or an administrator ends idle sessions: the next connect() must not hand one out."""
    postgres = resources["postgres"]
    with postgres.connect() as conn:
        ended = _backend(conn)
    with psycopg.connect(postgres.url, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", [ended]).fetchone()[0]
        for _ in range(50):  # the backend exits asynchronously
            if not admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [ended]).fetchone():
                break
            time.sleep(0.1)
    with postgres.connect() as conn:
        assert _backend(conn) != ended
        assert conn.execute("SELECT 1").fetchone()[0] == 1


def test_a_forked_child_never_touches_its_parents_connections(resources):
    """Run workers are forked: a child that closed its copy of the parent's idle connection would send the
    server a goodbye on the parent's socket and end the parent's session."""
    postgres = resources["postgres"]
    with postgres.connect() as conn:
        parents = _backend(conn)
    pid = os.fork()
    if pid == 0:  # the child: connect on its own, then close everything it inherited, as an exiting process may
        code = 1
        try:
            with postgres.connect() as conn:
                code = 0 if _backend(conn) != parents else 2
            for inherited in list(postgres_module._inherited):
                inherited.close()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0  # the child had its own connection
    with postgres.connect() as conn:
        assert _backend(conn) == parents  # the parent's session survived the child
