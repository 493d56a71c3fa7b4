"""The SQL models on the real object store and Postgres: silver deduplicated, app.orders the latest state,
re-runs and crash-then-retry leave the same end state."""
from __future__ import annotations

import json
import random
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from assets.bronze.ingest import PREFIXES
from assets.bronze.topics import TopicSpec
from assets.bronze.transform import KafkaRecord, transform
from assets.bronze.writer import ObjectWriter
from assets.models.project import build_order, load_models
from assets.models.runner import ModelRunner
from resources import duckdb as lake_duckdb

ORDERS = TopicSpec("orders", "json", "orders")
NOW = datetime.now(timezone.utc).replace(microsecond=0)


def _event(order_id: str, status: str, at: datetime, amount: float = 10.0, event_id: str | None = None) -> dict:
    return {"event_id": event_id or str(uuid.uuid4()), "order_id": order_id, "customer_id": "c-1",
            "status": status, "amount": amount, "currency": "VND",
            "created_at": at.isoformat().replace("+00:00", "Z")}


class Lake:
    """Writes bronze objects the way the bronze asset does, runs every model, reads the results."""

    def __init__(self, store, postgres):
        self.store, self.postgres = store, postgres
        self.partition = random.randint(10_000, 10_000_000)  # a Kafka partition no real topic has
        self.offset = 0
        self.models = load_models()
        self.runner = ModelRunner(self.models, self.store, self.postgres)

    def land(self, events: list[dict], processed_at: datetime = NOW) -> None:
        writer = ObjectWriter("orders", PREFIXES)
        for event in events:
            rec = KafkaRecord("orders", self.partition, self.offset, int(processed_at.timestamp() * 1000),
                              event["order_id"].encode(), json.dumps(event).encode())
            out = transform(rec, ORDERS, processed_at.isoformat(), 1 << 20)
            assert not out.quarantined
            writer.add("bronze", self.partition, "2026-01-01", self.offset, out.line)
            self.offset += 1
        writer.upload(self.store.client(), self.store.bucket)

    def run_all(self) -> dict:
        return {name: self.runner.run(self.models[name]) for name in build_order(self.models)}

    def silver(self, event_ids: list[str]) -> list[tuple]:
        con = lake_duckdb.connect(self.store)
        ids = ", ".join(f"'{e}'" for e in event_ids)
        return con.execute(
            f"SELECT event_id, status, amount FROM read_parquet('{self.store.uri('silver/orders')}/**/*.parquet',"
            f" hive_partitioning=false) WHERE event_id IN ({ids}) ORDER BY event_id").fetchall()

    def order(self, order_id: str, relation: str = "app.orders"):
        with self.postgres.connect() as conn:
            return conn.execute(f"SELECT event_id, status, amount FROM {relation} WHERE order_id = %s",
                                [order_id]).fetchone()


@pytest.fixture
def lake(resources):
    return Lake(resources["object_store"], resources["postgres"])


def test_silver_dedups_and_app_orders_keeps_the_latest_state(lake):
    a, b = f"o-{uuid.uuid4().hex[:8]}", f"o-{uuid.uuid4().hex[:8]}"
    created = _event(a, "created", NOW - timedelta(minutes=5))
    paid = _event(a, "paid", NOW - timedelta(minutes=1), amount=12.5)
    old = _event(b, "shipped", NOW - timedelta(days=2))
    lake.land([created, paid, paid, old])  # a duplicate inside the batch
    lake.run_all()
    ids = [created["event_id"], paid["event_id"], old["event_id"]]
    assert len(lake.silver(ids)) == 3
    assert lake.order(a) == (paid["event_id"], "paid", 12.5)
    assert lake.order(a, "app.orders_recent") == (paid["event_id"], "paid", 12.5)
    assert lake.order(b) is not None and lake.order(b, "app.orders_recent") is None  # older than a day

    stale = _event(a, "cancelled", NOW - timedelta(minutes=3))  # arrives later, happened earlier
    lake.land([paid, stale])  # the duplicate again, in a later batch
    lake.run_all()
    assert len(lake.silver(ids + [stale["event_id"]])) == 4, "a duplicate across batches reached silver"
    assert lake.order(a) == (paid["event_id"], "paid", 12.5), "an older event overwrote a newer state"


def test_rerunning_changes_nothing(lake):
    order = f"o-{uuid.uuid4().hex[:8]}"
    events = [_event(order, "created", NOW - timedelta(seconds=30 - i)) for i in range(5)]
    lake.land(events)
    lake.run_all()
    before = (lake.silver([e["event_id"] for e in events]), lake.order(order))
    lake.run_all()
    for model in lake.models.values():
        assert lake.runner.run(model).rows == 0
    assert (lake.silver([e["event_id"] for e in events]), lake.order(order)) == before


def test_crash_after_writing_silver_then_retry_gives_the_same_end_state(lake, monkeypatch):
    order = f"o-{uuid.uuid4().hex[:8]}"
    events = [_event(order, s, NOW - timedelta(seconds=10 - i)) for i, s in enumerate(("created", "paid", "shipped"))]
    lake.land(events)
    real_record = ModelRunner._record

    def crash(self, model, keys, batch_id):
        raise RuntimeError("crashed before recording the batch")

    monkeypatch.setattr(ModelRunner, "_record", crash)
    with pytest.raises(RuntimeError, match="crashed"):
        lake.runner.run(lake.models["silver_orders"])  # silver files written, batch not recorded
    monkeypatch.setattr(ModelRunner, "_record", real_record)
    lake.run_all()
    assert len(lake.silver([e["event_id"] for e in events])) == 3
    assert lake.order(order)[1] == "shipped"
