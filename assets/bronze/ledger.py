"""Bronze's ledger in Postgres: per topic (by Kafka topic id) and partition, what was requested and what landed.

A run records its ranges and objects only after the objects are written, in one transaction; the sensor
plans from this ledger, so a range whose run failed for good is seen as missing and requested again.
A topic deleted and re-created under the same name has a new topic id, hence a ledger of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg

from assets import lake_objects
from assets.bronze.ranges import Interval, Ranges


@dataclass
class PartitionLedger:
    """What the ledger knows of one partition."""

    landed_to: int  # every offset below has landed (or was reported lost to retention)
    requested_to: int  # every offset below was requested
    landed_above: list[Interval] = field(default_factory=list)  # landed ranges above landed_to


def dataset(layer: str, topic: str) -> str:
    """The lake_objects dataset of bronze objects (`bronze/<topic>`) or of quarantine objects."""
    return f"bronze/{topic}" if layer == "bronze" else f"bronze_quarantine/{topic}"


def load(conn: psycopg.Connection, topic: str, topic_id: str, start: dict[int, int]) -> dict[int, PartitionLedger]:
    """The ledger of every partition in `start`; a partition seen for the first time starts at `start[p]`."""
    with conn.transaction():
        conn.cursor().executemany(
            "INSERT INTO lakehouse_state.bronze_partitions (topic_id, partition, topic, landed_to, requested_to) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            [(topic_id, p, topic, offset, offset) for p, offset in sorted(start.items())],
        )
    rows = conn.execute(
        "SELECT partition, landed_to, requested_to FROM lakehouse_state.bronze_partitions WHERE topic_id = %s",
        [topic_id],
    ).fetchall()
    ledger = {p: PartitionLedger(landed, requested) for p, landed, requested in rows}
    for p, s, e in conn.execute(
        "SELECT partition, start_offset, end_offset FROM lakehouse_state.bronze_ranges "
        "WHERE topic_id = %s ORDER BY partition, start_offset",
        [topic_id],
    ).fetchall():
        if p in ledger:
            ledger[p].landed_above.append((s, e))
    return ledger


def has_topic(conn: psycopg.Connection, topic_id: str) -> bool:
    """Whether the ledger knows this topic id (False for a topic never seen, or re-created)."""
    return (
        conn.execute(
            "SELECT 1 FROM lakehouse_state.bronze_partitions WHERE topic_id = %s LIMIT 1", [topic_id]
        ).fetchone()
        is not None
    )


def known_topic_ids(conn: psycopg.Connection, topic: str) -> list[str]:
    """Every topic id the ledger has seen under this topic name."""
    return [
        r[0]
        for r in conn.execute(
            "SELECT DISTINCT topic_id FROM lakehouse_state.bronze_partitions WHERE topic = %s", [topic]
        ).fetchall()
    ]


def mark_requested(conn: psycopg.Connection, topic_id: str, ends: dict[int, int]) -> None:
    """Everything below `ends[p]` has now been requested."""
    with conn.transaction():
        conn.cursor().executemany(
            "UPDATE lakehouse_state.bronze_partitions SET requested_to = greatest(requested_to, %s), "
            "updated_at = now() WHERE topic_id = %s AND partition = %s",
            [(end, topic_id, p) for p, end in sorted(ends.items())],
        )


def record_landed(
    conn: psycopg.Connection, topic: str, topic_id: str, ranges: Ranges, run_id: str, objects: list[dict]
) -> None:
    """In one transaction: register the batch's objects, record its ranges, move landed_to over every
    range that now joins it."""
    with conn.transaction(), conn.cursor() as cur:
        for layer in ("bronze", "quarantine"):
            lake_objects.register(
                cur,
                dataset(layer, topic),
                [(o["key"], o["records"], o["bytes"]) for o in objects if o["layer"] == layer],
            )
        for p, (start, end) in sorted(ranges.items()):
            cur.execute(
                "INSERT INTO lakehouse_state.bronze_ranges (topic_id, partition, start_offset, end_offset, "
                "run_id) VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                [topic_id, p, start, end, run_id],
            )
            _merge(cur, topic_id, p)


def _merge(cur: psycopg.Cursor, topic_id: str, partition: int) -> None:
    row = cur.execute(
        "SELECT landed_to FROM lakehouse_state.bronze_partitions WHERE topic_id = %s AND partition = %s FOR UPDATE",
        [topic_id, partition],
    ).fetchone()
    if row is None:
        raise RuntimeError(f"bronze ledger: partition {partition} of topic id {topic_id} was never planned")
    landed_to = row[0]
    while True:
        reach = cur.execute(
            "SELECT max(end_offset) FROM lakehouse_state.bronze_ranges WHERE topic_id = %s AND "
            "partition = %s AND start_offset <= %s AND end_offset > %s",
            [topic_id, partition, landed_to, landed_to],
        ).fetchone()[0]
        if reach is None:
            break
        landed_to = reach
    cur.execute(
        "DELETE FROM lakehouse_state.bronze_ranges WHERE topic_id = %s AND partition = %s AND end_offset <= %s",
        [topic_id, partition, landed_to],
    )
    cur.execute(
        "UPDATE lakehouse_state.bronze_partitions SET landed_to = %s, updated_at = now() "
        "WHERE topic_id = %s AND partition = %s",
        [landed_to, topic_id, partition],
    )
