"""Forward-only schema migrations for Postgres: dbt_like_sql/migrations/NNNN_name.sql, applied in order.

Each file runs in its own transaction (so it must not contain BEGIN/COMMIT, nor statements that cannot run in a
transaction block) and is recorded in public.schema_migrations with the SHA-256 of its bytes. Applied files are
skipped; editing one after it was applied is an error: add a new file instead. A session-level advisory lock
serialises concurrent callers (several Dagster processes starting at once).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "dbt_like_sql" / "migrations"
FILE_NAME = re.compile(r"^(\d{4})_\w+\.sql$")
LOCK_KEY = 0x5C4E_3A11  # pg_advisory_lock key reserved for schema migrations

CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS public.schema_migrations (
    version    integer PRIMARY KEY,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


class MigrationError(RuntimeError):
    """The migration files are inconsistent with each other or with what the database already applied."""


@dataclass(frozen=True)
class Migration:
    """One migration file."""

    version: int
    path: Path

    @property
    def name(self) -> str:
        """The file name, e.g. 0001_app_schema.sql."""
        return self.path.name


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files of `directory`, by version; any other .sql file or a repeated version is an error."""
    migrations: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = FILE_NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path}: migration files must be named NNNN_name.sql")
        version = int(match.group(1))
        if version in migrations:
            raise MigrationError(f"{path}: version {version:04d} is also used by {migrations[version].name}")
        migrations[version] = Migration(version, path)
    return [migrations[v] for v in sorted(migrations)]


def apply_migrations(pg_url: str, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply the migrations of `directory` not yet applied to the database at `pg_url`, as that URL's role.

    Returns the file names applied by this call (empty when the database was up to date). Raises MigrationError
    when an applied file has changed since; a failing file is rolled back and its error propagates.
    """
    migrations = discover(directory)
    applied_now: list[str] = []
    with psycopg.connect(pg_url, autocommit=True, connect_timeout=10) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))  # released when the connection closes
        conn.execute(CREATE_TABLE)
        applied = dict(conn.execute("SELECT version, checksum FROM public.schema_migrations").fetchall())
        for migration in migrations:
            body = migration.path.read_bytes()
            checksum = hashlib.sha256(body).hexdigest()
            if migration.version in applied:
                if applied[migration.version] != checksum:
                    raise MigrationError(
                        f"{migration.path} was changed after it was applied (recorded sha256 "
                        f"{applied[migration.version]}, file has {checksum}); add a new migration instead"
                    )
                continue
            with conn.transaction():
                conn.execute(body.decode())  # no parameters: several statements are allowed
                conn.execute(
                    "INSERT INTO public.schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                    (migration.version, migration.name, checksum),
                )
            applied_now.append(migration.name)
    return applied_now
