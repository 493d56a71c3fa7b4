"""A lake for model tests: bronze objects written and registered the way the bronze asset does, every model
run in dependency order, results read back."""

from __future__ import annotations

import json
import random
import uuid
from datetime import datetime, timezone

from assets import lake_objects
from assets.bronze.ingest import PREFIXES
from assets.bronze.ledger import dataset
from assets.bronze.topics import TopicSpec
from assets.bronze.transform import KafkaRecord, transform
from assets.bronze.writer import ObjectWriter
from assets.models.project import build_order, load_models
from assets.models.runner import ModelRunner
from resources import duckdb as lake_duckdb
from resources.models import ModelSettings

ORDERS = TopicSpec("orders", "json", "orders")
CHANGES = TopicSpec("dbserver1.app.orders", "json", "debezium")


def order_event(order_id: str, status: str, at: datetime, amount: float = 10.0, event_id: str | None = None) -> dict:
    return {
        "event_id": event_id or str(uuid.uuid4()),
        "order_id": order_id,
        "customer_id": "c-1",
        "status": status,
        "amount": amount,
        "currency": "VND",
        "created_at": at.isoformat().replace("+00:00", "Z"),
    }


def order_change(op: str, row: dict, lsn: int, committed: datetime, before: dict | None = None) -> dict:
    """A Debezium change envelope of app.orders (as the connector writes it, without schemas)."""
    ms = int(committed.timestamp() * 1000)
    return {
        "before": before if op in ("u", "d") else None,
        "after": None if op == "d" else row,
        "source": {
            "version": "3.6.1.Final",
            "connector": "postgresql",
            "name": "dbserver1",
            "ts_ms": ms,
            "db": "shop",
            "schema": "app",
            "table": "orders",
            "txId": lsn // 100,
            "lsn": lsn,
        },
        "op": op,
        "ts_ms": ms + 50,
    }


class Lake:
    """Writes bronze objects the way the bronze asset does, runs every model, reads the results."""

    def __init__(self, store, postgres, settings: ModelSettings | None = None):
        self.store, self.postgres = store, postgres
        self.partition = random.randint(10_000, 10_000_000)  # a Kafka partition no real topic has
        self.offset = 0
        self.models = load_models()
        self.runner = ModelRunner(self.models, self.store, self.postgres, settings)

    def land(self, events: list[dict], processed_at: datetime | None = None) -> None:
        """Order events on topic orders."""
        self._land(ORDERS, [(e["order_id"].encode(), json.dumps(e).encode()) for e in events], processed_at)

    def land_changes(self, changes: list[tuple[str, dict | None]], processed_at: datetime | None = None) -> None:
        """(order id, change envelope or None for a tombstone) on the CDC topic."""
        self._land(
            CHANGES,
            [(json.dumps({"order_id": k}).encode(), None if c is None else json.dumps(c).encode()) for k, c in changes],
            processed_at,
        )

    def _land(self, spec: TopicSpec, records: list[tuple[bytes, bytes | None]], processed_at: datetime | None) -> None:
        processed_at = processed_at or datetime.now(timezone.utc).replace(microsecond=0)
        writer = ObjectWriter(spec.topic, PREFIXES)
        for key, value in records:
            rec = KafkaRecord(spec.topic, self.partition, self.offset, int(processed_at.timestamp() * 1000), key, value)
            out = transform(rec, spec, processed_at.isoformat(), 1 << 20)
            assert not out.quarantined
            writer.add("bronze", self.partition, "2026-01-01", self.offset, out.line)
            self.offset += 1
        written = writer.upload(self.store.client(), self.store.bucket)
        with self.postgres.connect() as conn, conn.cursor() as cur:
            lake_objects.register(
                cur,
                dataset("bronze", spec.topic),
                [(o["key"], o["records"], o["bytes"]) for o in written if o["layer"] == "bronze"],
            )

    def run_all(self) -> dict:
        return {name: self.runner.run(self.models[name]) for name in build_order(self.models)}

    def silver(self, event_ids: list[str]) -> list[tuple]:
        con = lake_duckdb.connect(self.store)
        ids = ", ".join(f"'{e}'" for e in event_ids)
        return con.execute(
            f"SELECT event_id, status, amount FROM read_parquet('{self.store.uri('silver/orders')}/**/*.parquet',"
            f" hive_partitioning=false) WHERE event_id IN ({ids}) ORDER BY event_id"
        ).fetchall()

    def order(self, order_id: str, relation: str = "app.orders"):
        with self.postgres.connect() as conn:
            return conn.execute(
                f"SELECT event_id, status, amount FROM {relation} WHERE order_id = %s", [order_id]
            ).fetchone()
