"""The Postgres of the stack: the platform's role and database, and schema migrations that re-run harmlessly."""

from __future__ import annotations

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
