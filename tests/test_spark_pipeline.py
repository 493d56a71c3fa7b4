"""The Spark Structured Streaming pipelines, started and watched through Dagster, on real Spark drivers, Kafka,
object store and Postgres."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from assets.bronze.topics import TopicSpec
from assets.spark import KAFKA_TO_MINIO, ORDERS_PER_MINUTE
from infra.stack.sandbox import sandbox
from resources.settings import setting
from tests.support.flink import bronze_outcome, category
from tests.support.spark import SparkHarness
from tests.support.streams import BAD, ORDERS_SPEC, encode, offsets, orders


@pytest.fixture
def harness(spark_stack, cfg, resources, fresh_topic, monkeypatch):
    """A fresh topic declared with the orders schema, a sandbox bucket and database, the Spark drivers on them."""
    monkeypatch.setenv("BRONZE_TOPICS", f"lab-events:text,orders:json:orders,{fresh_topic}:json:orders")
    with sandbox(cfg, resources["object_store"], resources["postgres"], prefix="test") as (store, postgres):
        h = SparkHarness(fresh_topic, store, postgres)
        try:
            yield h
        finally:
            h.cancel_all()


# A driver's first micro-batch starts its Python workers and S3A: 20-40 s on a quiet machine, minutes on a busy one.
WAIT = 300.0


def _sink(h: SparkHarness) -> str:
    return f"bronze/spark/{h.topic}/"


def test_sink_holds_n_exactly_once_quarantines_the_bad_and_resumes_n_plus_m(harness):
    """N events and bad ones → exactly N lines (bronze's own) and each bad one quarantined with bronze's reason;
    a second start reports the running driver; stop → M more → resume → N + M, no record twice."""
    start = datetime.now(UTC) - timedelta(minutes=30)
    first, second = orders(600, start, seed=11), orders(400, start + timedelta(minutes=10), seed=12)
    harness.produce(encode(first) + BAD)
    meta = harness.submit().asset_materializations_for_node("bronze__spark")[0].metadata
    assert meta["already_running"].value is False and meta["spark_status"].value == "running"

    lines = harness.wait_for_lines(_sink(harness), len(first), WAIT)
    assert sorted(line["event_id"] for line in lines) == sorted(e["event_id"] for e in first)
    payloads = {e["event_id"]: payload for e, payload in zip(first, encode(first), strict=False)}
    max_bytes = int(setting("BRONZE_MAX_MESSAGE_BYTES"))
    for line in lines:  # the bronze path's line for the same record, but for the time it was processed
        bronze = bronze_outcome(
            TopicSpec(harness.topic, "json", "orders"), payloads[line["event_id"]], max_bytes, line["_kafka"]
        ).line
        assert {**line, "processed_at": None} == {**json.loads(bronze), "processed_at": None}
    quarantined = harness.wait_for_lines(f"bronze/spark_quarantine/{harness.topic}/", len(BAD), WAIT)
    assert sorted(base64.b64decode(q["raw_base64"]) for q in quarantined) == sorted(BAD)
    assert sorted(category(q["reason"]) for q in quarantined) == sorted(
        category(bronze_outcome(ORDERS_SPEC, bad, max_bytes).reason) for bad in BAD
    )

    harness.wait_for_status(KAFKA_TO_MINIO, "running", WAIT, progress=True)  # reported after the batch committed
    observed = harness.tick().asset_events
    assert [event.asset_key for event in observed] == [KAFKA_TO_MINIO.asset_key]
    assert observed[0].metadata["input_rows_per_second"].value >= 0 and "batch_id" in observed[0].metadata

    again = harness.submit().asset_materializations_for_node("bronze__spark")[0].metadata
    assert again["already_running"].value is True and again["spark_query_id"].value == meta["spark_query_id"].value

    assert harness.control("spark_stop").success
    assert harness.row().status == "stopped"
    harness.produce(encode(second))
    assert harness.control("spark_resume").success
    lines = harness.wait_for_lines(_sink(harness), len(first) + len(second), WAIT)
    assert len(lines) == len(first) + len(second)
    assert len(set(offsets(lines))) == len(lines), "a Kafka record landed twice"
    assert sorted(line["event_id"] for line in lines) == sorted(e["event_id"] for e in first + second)
    assert len(harness.wait_for_lines(f"bronze/spark_quarantine/{harness.topic}/", len(BAD), WAIT)) == len(BAD)


def test_a_failed_query_turns_the_sensor_red_with_sparks_exception(harness):
    """The windows' table is missing: the first batch that closes a window fails the query, and the sensor's
    tick fails with Spark's exception (Postgres' words)."""
    with harness.postgres.connect() as conn:
        conn.execute("DROP TABLE app.orders_per_minute_spark CASCADE")  # and the engines view
    harness.produce(encode(orders(300, datetime.now(UTC) - timedelta(minutes=10), seed=13)))
    harness.submit(ORDERS_PER_MINUTE)
    row = harness.wait_for_status(ORDERS_PER_MINUTE, "failed", WAIT)
    assert "orders_per_minute_spark" in row.error and harness.postgres.url not in row.error
    with pytest.raises(Exception, match=r"(?s)Spark query .*failed.*orders_per_minute_spark.*does not exist"):
        harness.tick()
