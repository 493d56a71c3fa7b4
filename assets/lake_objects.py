"""The registry of objects the lake wrote (lakehouse_state.lake_objects), read in commit order.

Writers register objects under one advisory lock, so ids become visible in increasing order: a reader that
has read up to id N never finds a smaller id appearing later. Models read `id > N` of their input dataset
instead of listing the object store, so a run's cost does not grow with the lake's history.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

REGISTRY_LOCK = 0x5C4E_3A12  # pg_advisory_xact_lock key: one registering transaction at a time


@dataclass(frozen=True)
class LakeObject:
    """One registered object."""

    id: int
    key: str
    records: int
    bytes: int


def register(cur: psycopg.Cursor, dataset: str, objects: list[tuple[str, int, int]]) -> None:
    """Register (key, records, bytes) objects of `dataset` inside the caller's transaction (idempotent)."""
    if not objects:
        return
    cur.execute("SELECT pg_advisory_xact_lock(%s)", [REGISTRY_LOCK])
    cur.executemany(
        "INSERT INTO lakehouse_state.lake_objects (dataset, key, records, bytes) "
        "VALUES (%s, %s, %s, %s) ON CONFLICT (key) DO NOTHING",
        [(dataset, key, records, size) for key, records, size in objects],
    )


def last_read(conn: psycopg.Connection, model: str, dataset: str) -> int:
    """The id up to which `model` has read `dataset` (0 before its first batch)."""
    row = conn.execute(
        "SELECT last_id FROM lakehouse_state.model_inputs WHERE model = %s AND dataset = %s", [model, dataset]
    ).fetchone()
    return row[0] if row else 0


def unread(
    conn: psycopg.Connection, dataset: str, after: int, max_objects: int, max_bytes: int, max_records: int
) -> list[LakeObject]:
    """The next objects of `dataset` after id `after`, oldest first: at most `max_objects`, `max_bytes` and
    `max_records` (always at least one, so a single large object cannot stall its reader). Records bound
    DuckDB's memory; compressed bytes alone do not (a zstd batch of 512 MB holds about 30 M events)."""
    rows = conn.execute(
        "SELECT id, key, records, bytes, sum(bytes) OVER w, sum(records) OVER w FROM lakehouse_state.lake_objects "
        "WHERE dataset = %s AND id > %s WINDOW w AS (ORDER BY id) ORDER BY id LIMIT %s",
        [dataset, after, max_objects],
    ).fetchall()
    if not rows:
        return []
    picked = []
    for i, k, r, b, running_bytes, running_records in rows:
        if running_bytes > max_bytes or running_records > max_records:
            break
        picked.append(LakeObject(i, k, r, b))
    return picked or [LakeObject(*rows[0][:4])]


def keys_under(conn: psycopg.Connection, dataset: str, prefixes: list[str]) -> list[str]:
    """Registered keys of `dataset` under any of `prefixes` (folders, without the trailing slash): what a model
    wrote and committed there, without listing the object store (an index range per prefix, in byte order where
    '/' < '0': the "C" collation whatever the database's, migration 0010)."""
    if not prefixes:
        return []
    rows = conn.execute(
        "SELECT o.key FROM unnest(%s::text[]) AS p(prefix) JOIN lakehouse_state.lake_objects o "
        "ON o.key COLLATE \"C\" >= p.prefix || '/' AND o.key COLLATE \"C\" < p.prefix || '0' "
        'WHERE o.dataset = %s ORDER BY o.key COLLATE "C"',
        [prefixes, dataset],
    ).fetchall()
    return [key for (key,) in rows]


def backlog(conn: psycopg.Connection, dataset: str, after: int) -> tuple[int, int, int]:
    """Objects, bytes and records of `dataset` after id `after`: what a reader still has to read."""
    count, size, records = conn.execute(
        "SELECT count(*), coalesce(sum(bytes), 0), coalesce(sum(records), 0) FROM lakehouse_state.lake_objects "
        "WHERE dataset = %s AND id > %s",
        [dataset, after],
    ).fetchone()
    return count, int(size), int(records)


def mark_read(cur: psycopg.Cursor, model: str, dataset: str, last_id: int) -> None:
    """Record inside the caller's transaction that `model` has read `dataset` up to `last_id`."""
    cur.execute(
        "INSERT INTO lakehouse_state.model_inputs (model, dataset, last_id) VALUES (%s, %s, %s) "
        "ON CONFLICT (model, dataset) DO UPDATE SET last_id = greatest(model_inputs.last_id, EXCLUDED.last_id), "
        "updated_at = now()",
        [model, dataset, last_id],
    )
