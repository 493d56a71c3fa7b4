"""The Flink SQL pipelines, submitted and watched through Dagster, on real Flink, Kafka, object store and Postgres."""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime, timedelta, timezone

import pytest

from assets.bronze.topics import TopicSpec
from assets.flink.pipelines import KAFKA_TO_MINIO, ORDERS_PER_MINUTE, jdbc_settings
from assets.flink.state import record
from infra.stack.sandbox import sandbox
from resources.flink import FlinkError
from resources.migrations import apply_migrations
from resources.settings import setting
from tests.support.flink import FlinkHarness, bronze_outcome, category
from tests.support.streams import BAD, ORDERS_SPEC, encode, offsets, orders

BRONZE_NODE = KAFKA_TO_MINIO.asset_key.to_python_identifier()  # the op of an asset is named after its key
WINDOWS_NODE = ORDERS_PER_MINUTE.asset_key.to_python_identifier()

pytestmark = pytest.mark.flink


@pytest.fixture
def harness(flink, cfg, resources, fresh_topic, monkeypatch):
    """A fresh topic declared with the orders schema, a sandbox bucket and database, the Flink jobs on them."""
    monkeypatch.setenv("BRONZE_TOPICS", f"lab-events:text,orders:json:orders,{fresh_topic}:json:orders")
    with sandbox(cfg, resources["object_store"], resources["postgres"], prefix="test") as (store, postgres):
        apply_migrations(postgres.url)
        h = FlinkHarness(fresh_topic, store, postgres)
        try:
            yield h
        finally:
            h.cancel_all()


def _sink(h: FlinkHarness) -> str:
    return f"bronze/flink/{h.topic}/"


def test_sink_holds_every_event_exactly_once_and_quarantines_the_bad_ones(harness):
    events = orders(1500, datetime.now(timezone.utc) - timedelta(minutes=30), seed=1)
    harness.produce(encode(events) + BAD)
    result = harness.submit()
    meta = result.asset_materializations_for_node(BRONZE_NODE)[0].metadata
    assert meta["flink_state"].value == "RUNNING" and meta["checkpoints_completed"].value >= 1
    assert meta["already_running"].value is False

    lines = harness.wait_for_lines(_sink(harness), len(events))
    assert sorted(line["event_id"] for line in lines) == sorted(e["event_id"] for e in events)
    assert len(set(offsets(lines))) == len(lines), "a Kafka record landed twice"
    assert all(line["processed_at"] and line["_kafka"]["topic"] == harness.topic for line in lines)
    payloads = {e["event_id"]: payload for e, payload in zip(events, encode(events), strict=False)}
    max_bytes = int(setting("BRONZE_MAX_MESSAGE_BYTES"))
    for line in lines:  # the bronze path's line for the same record, but for the time it was processed
        bronze = json.loads(
            bronze_outcome(
                TopicSpec(harness.topic, "json", "orders"), payloads[line["event_id"]], max_bytes, line["_kafka"]
            ).line
        )
        assert {**line, "processed_at": None} == {**bronze, "processed_at": None}
    keys = [
        o["Key"]
        for o in harness.store.client()
        .list_objects_v2(Bucket=harness.store.bucket, Prefix=_sink(harness))
        .get("Contents", [])
    ]
    assert keys and all(re.search(r"/dt=\d{4}-\d{2}-\d{2}/hour=\d{2}/", key) for key in keys), keys
    quarantined = harness.wait_for_lines(f"bronze/flink_quarantine/{harness.topic}/", len(BAD))
    assert sorted(base64.b64decode(q["payload_base64"]) for q in quarantined) == sorted(BAD)
    assert sorted(q["payload"].encode() for q in quarantined) == sorted(BAD)
    max_bytes = int(setting("BRONZE_MAX_MESSAGE_BYTES"))
    assert {q["payload"]: category(q["reason"]) for q in quarantined} == {
        bad.decode(): category(bronze_outcome(ORDERS_SPEC, bad, max_bytes).reason) for bad in BAD
    }


def test_stop_with_savepoint_then_resume_lands_n_plus_m_exactly_once(harness):
    start = datetime.now(timezone.utc) - timedelta(minutes=30)
    first, second = orders(800, start, seed=2), orders(700, start + timedelta(minutes=10), seed=3)
    harness.produce(encode(first))
    harness.submit()
    assert len(harness.wait_for_lines(_sink(harness), len(first))) == len(first)

    stopped = harness.run("flink_stop_with_savepoint", {**harness.config(), "pipeline": "kafka_to_minio"})
    assert stopped.success
    assert not harness.flink.active_jobs(harness.job_name(KAFKA_TO_MINIO))
    harness.produce(encode(second))
    resumed = harness.run("flink_resume_from_savepoint", {**harness.config(), "pipeline": "kafka_to_minio"})
    meta = resumed.get_asset_materialization_events()[0].materialization.metadata
    assert "flink/savepoints/" in meta["savepoint_restored"].value

    lines = harness.wait_for_lines(_sink(harness), len(first) + len(second))
    assert len(lines) == len(first) + len(second)
    assert sorted(line["event_id"] for line in lines) == sorted(e["event_id"] for e in first + second)


def test_submitting_twice_leaves_one_running_job(harness):
    harness.produce(encode(orders(10, datetime.now(timezone.utc), seed=4)))
    first = harness.submit().asset_materializations_for_node(BRONZE_NODE)[0].metadata
    second = harness.submit().asset_materializations_for_node(BRONZE_NODE)[0].metadata
    assert second["already_running"].value is True
    assert second["flink_job_id"].value == first["flink_job_id"].value
    assert [j["jid"] for j in harness.flink.active_jobs(harness.job_name(KAFKA_TO_MINIO))] == [
        first["flink_job_id"].value
    ]


def test_a_setting_flink_rejects_fails_the_run_with_flinks_message(harness):
    result = harness.run(
        "flink_kafka_to_minio", harness.config(checkpoint_interval="every now and then"), raise_on_error=False
    )
    assert not result.success
    error = str(result.failure_data_for_node(BRONZE_NODE).error)
    assert "every now and then" in error and "execution.checkpointing.interval" in error
    assert not harness.flink.active_jobs(harness.job_name(KAFKA_TO_MINIO))


def test_the_sensor_reports_running_jobs_and_fails_on_a_cancelled_or_missing_one(harness):
    harness.produce(encode(orders(20, datetime.now(timezone.utc), seed=7)))
    job_id = harness.submit().asset_materializations_for_node(BRONZE_NODE)[0].metadata["flink_job_id"].value
    observed = harness.tick().asset_events
    assert [event.asset_key for event in observed] == [KAFKA_TO_MINIO.asset_key]
    assert observed[0].metadata["flink_job_id"].value == job_id

    harness.flink.cancel(job_id)
    harness.flink.wait_for_job(job_id, ("CANCELED",), timeout=60)
    with pytest.raises(Exception, match=f"{job_id}.*CANCELED but expected to run"):
        harness.tick()

    record(harness.postgres, harness.job_name(KAFKA_TO_MINIO), "kafka_to_minio", "0" * 32, "running", None)
    with pytest.raises(Exception, match="does not know it"):
        harness.tick()


def test_the_sensor_names_the_root_exception_of_a_failed_job(harness):
    """A job whose JDBC sink table does not exist fails; the sensor's error carries Postgres' words."""
    session = harness.flink.open_session({"restart-strategy.type": "none", "pipeline.name": "test-failing"})
    try:
        harness.flink.execute(
            session, "CREATE TEMPORARY TABLE gen (id BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '10')"
        )
        url = jdbc_settings(harness.postgres.url)["jdbc_url"]
        harness.flink.execute(
            session,
            f"""CREATE TEMPORARY TABLE missing (id BIGINT) WITH ('connector' = 'jdbc',
            'url' = '{url}', 'table-name' = 'app.no_such_table')""",
        )
        job_id = harness.flink.execute(session, "INSERT INTO missing SELECT id FROM gen").job_id
    finally:
        harness.flink.close_session(session)
    with pytest.raises(Exception, match="FAILED"):
        harness.flink.wait_for_job(job_id, ("FINISHED",), timeout=60)
    record(harness.postgres, f"test-failing-{harness.topic}", "orders_per_minute", job_id, "running", None)
    with pytest.raises(Exception, match=r"(?s)FAILED but expected to run.*no_such_table"):
        harness.tick()


def test_a_jdbc_sink_that_cannot_log_in_names_the_pgpass_file(harness):
    """The password is never in the SQL: a user the TaskManagers' pgpass file does not know cannot log in, and
    the error says where the password comes from."""
    session = harness.flink.open_session({"restart-strategy.type": "none", "pipeline.name": "test-no-login"})
    url = jdbc_settings(harness.postgres.url)["jdbc_url"].replace("?user=", f"?user=nobody_{harness.topic[-6:]}_")
    try:
        harness.flink.execute(
            session, "CREATE TEMPORARY TABLE gen (id BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '10')"
        )
        harness.flink.execute(
            session,
            f"""CREATE TEMPORARY TABLE pg (id BIGINT) WITH ('connector' = 'jdbc',
            'url' = '{url}', 'table-name' = 'app.orders_per_minute_flink')""",
        )
        job_id = harness.flink.execute(session, "INSERT INTO pg SELECT id FROM gen").job_id
    finally:
        harness.flink.close_session(session)
    with pytest.raises(FlinkError, match=r"(?s)FAILED.*no password was provided.*pgpass file \(PGPASSFILE\)"):
        harness.flink.wait_for_job(job_id, ("FINISHED",), timeout=60)
