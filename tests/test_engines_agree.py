"""Three engines, one answer: DuckDB's models, Flink SQL and Spark Structured Streaming count the same final
1-minute windows on the same seeded events (disorder, redeliveries, events minutes late). docs/engines.md says where
they differ by design."""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest

from assets.flink import ORDERS_PER_MINUTE as FLINK_WINDOWS
from assets.spark import ORDERS_PER_MINUTE as SPARK_WINDOWS
from infra.stack.sandbox import sandbox
from tests.support.flink import FlinkHarness
from tests.support.lake import Lake
from tests.support.spark import SparkHarness
from tests.support.streams import encode, orders

pytestmark = pytest.mark.flink
COLUMNS = "window_start, window_end, orders, revenue, created, paid, shipped, cancelled"


@pytest.fixture
def engines(flink, spark_stack, cfg, resources, fresh_topic, monkeypatch):  # noqa: F811 - the fixture
    """Both harnesses on one fresh topic, one sandbox bucket and database."""
    monkeypatch.setenv("BRONZE_TOPICS", f"lab-events:text,orders:json:orders,{fresh_topic}:json:orders")
    with sandbox(cfg, resources["object_store"], resources["postgres"], prefix="test") as (store, postgres):
        flink_h, spark_h = FlinkHarness(fresh_topic, store, postgres), SparkHarness(fresh_topic, store, postgres)
        try:
            yield flink_h, spark_h
        finally:
            flink_h.cancel_all()
            spark_h.cancel_all()


def _rows(harness: FlinkHarness, table: str, until: datetime) -> list[tuple]:
    with harness.postgres.connect() as conn:
        return conn.execute(f"SELECT {COLUMNS} FROM {table} WHERE window_start <= %s ORDER BY 1", (until,)).fetchall()


def _json(value: object) -> dict:
    """A source's offsets in Spark's progress: JSON text or already an object."""
    return json.loads(value) if isinstance(value, str) else (value or {})


def _read_everything(spark: SparkHarness, total: int, timeout: float = 180.0) -> None:
    """Wait until Spark's query has committed a batch ending at the topic's end (`total` records)."""
    deadline = time.monotonic() + timeout
    while True:
        progress = (spark.row(SPARK_WINDOWS).progress or {}) if spark.row(SPARK_WINDOWS) else {}
        ends = [
            sum(int(o) for o in offsets.values())
            for source in progress.get("sources", [])
            for offsets in _json(source.get("endOffset")).values()
        ]
        if ends and ends[0] >= total:
            return
        assert time.monotonic() < deadline, f"Spark read {ends} of {total} records"
        time.sleep(2)


def test_duckdb_flink_and_spark_agree_on_every_final_window(engines):
    flink, spark = engines
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=20)
    events = orders(1200, start, seed=5)
    duplicates = random.Random(6).sample(events, 30)
    late = orders(20, start + timedelta(minutes=1), seed=15)  # minutes behind every watermark when they come
    flink.produce(encode(events + duplicates))
    lake = Lake(flink.store, flink.postgres)
    lake.land(events + duplicates)
    lake.run_all()
    statements = (
        flink.submit(FLINK_WINDOWS)
        .asset_materializations_for_node(FLINK_WINDOWS.asset_key.to_python_identifier())[0]
        .metadata["statements"]
        .value
    )
    assert "'url' = 'jdbc:postgresql://" in statements and urlsplit(flink.postgres.url).password not in statements
    assert "'password'" not in statements, "the TaskManagers read the password from their pgpass file"
    spark.submit(SPARK_WINDOWS)
    _read_everything(spark, len(events) + len(duplicates))

    flink.produce(encode(late))  # a later batch for every engine: too late for all three
    lake.land(late)
    lake.run_all()
    with flink.postgres.connect() as conn:
        duck = conn.execute(f"SELECT {COLUMNS} FROM app.orders_per_minute WHERE is_final ORDER BY 1").fetchall()
        late_listed = conn.execute("SELECT count(*) FROM app.late_events").fetchone()[0]
    assert len(duck) >= 8, "the stream should close several windows"
    assert late_listed == len(late), "DuckDB lists the late events instead of counting them"
    _read_everything(spark, len(events) + len(duplicates) + len(late))

    deadline = time.monotonic() + 120
    while True:
        flink_rows = _rows(flink, "app.orders_per_minute_flink", duck[-1][0])
        spark_rows = _rows(spark, "app.orders_per_minute_spark", duck[-1][0])
        if (len(flink_rows) >= len(duck) and len(spark_rows) >= len(duck)) or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert spark_rows == duck
    assert flink_rows == duck
