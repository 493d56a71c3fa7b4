"""Seeded order streams that the engine tests (DuckDB, Flink, Spark) produce alike: valid events with event-time
disorder, the bad records every engine must quarantine, and how to read offsets back from landed lines."""

from __future__ import annotations

import json
import random
import uuid
from datetime import datetime, timedelta

from assets.bronze.topics import TopicSpec


def orders(count: int, start: datetime, seed: int, spacing: float = 0.5, disorder: float = 3.0) -> list[dict]:
    """`count` order events, one every `spacing` seconds of event time from `start`, shuffled within `disorder`."""
    rng = random.Random(seed)
    events = []
    for i in range(count):
        at = start + timedelta(seconds=i * spacing - rng.uniform(0, disorder))
        events.append(
            {
                "event_id": str(uuid.UUID(int=rng.getrandbits(128))),
                "order_id": f"o-{rng.randrange(10**9)}",
                "customer_id": "c-1",
                "status": rng.choice(["created", "paid", "shipped", "cancelled"]),
                "amount": round(rng.uniform(5, 500), 2),
                "currency": "VND",
                "created_at": at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            }
        )
    return events


def encode(events: list[dict]) -> list[bytes]:
    return [json.dumps(e).encode() for e in events]


BAD = [
    b'{"event_id": "x", "order_id": ',
    b'{"order_id": "o-1", "status": "paid", "amount": 1, "created_at": "2026-01-01T00:00:00Z"}',
    b'{"event_id": "e", "order_id": "o-1", "status": 42, "amount": 1, "created_at": "2026-01-01T00:00:00Z"}',
    b'{"event_id": "e", "order_id": "o-1", "status": "paid", "amount": "12,50 VND",'
    b' "created_at": "2026-01-01T00:00:00Z"}',
    b'{"event_id": "e", "order_id": "o-1", "status": "paid", "amount": 1, "created_at": 1700000000}',
]
ORDERS_SPEC = TopicSpec("orders", "json", "orders")


def offsets(lines: list[dict]) -> list[tuple[int, int]]:
    return sorted((line["_kafka"]["partition"], line["_kafka"]["offset"]) for line in lines)
