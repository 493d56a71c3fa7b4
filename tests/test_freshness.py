"""Freshness checks against real state: a fresh Kafka topic whose records the lakehouse-bronze group has or has not
read, and asset updates recorded in a Dagster instance on a throw-away Postgres database."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import Producer, TopicPartition
from dagster import (
    AssetCheckKey,
    AssetKey,
    AssetMaterialization,
    AssetSelection,
    AssetSpec,
    Definitions,
    build_sensor_context,
    define_asset_job,
)

from orchestration.freshness import CHECK_NAME, BronzeTarget, FreshnessChecks, ModelTarget
from resources.operations import FreshnessSettings
from tests.support.dagster_dev import DagsterDev, throwaway_database

LIMIT = 3.0  # seconds data may wait, in these tests
BRONZE, APP = AssetKey(["bronze", "probe"]), AssetKey(["app", "orders"])


@pytest.fixture
def instance(core_stack, tmp_path):
    """A Dagster instance on the platform's instance config, in a new database."""
    with throwaway_database(core_stack) as url:
        with DagsterDev(tmp_path / "home", url, "tests.support.probe_location").instance() as inst:
            yield inst


def _produce(kafka, topic: str, n: int) -> None:
    producer = Producer({"bootstrap.servers": kafka.bootstrap_servers})
    for i in range(n):
        producer.produce(topic, f'{{"i": {i}}}'.encode(), partition=i % 3)
    assert producer.flush(30) == 0


def _mark_read(kafka, topic: str) -> None:
    """Move the lakehouse-bronze group to the end of each partition, as bronze does after landing a batch."""
    consumer = kafka.consumer()
    try:
        ends = [
            TopicPartition(topic, p, consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1])
            for p in range(3)
        ]
        consumer.commit(offsets=ends, asynchronous=False)
    finally:
        consumer.close()


def _updated(instance, key: AssetKey) -> None:
    instance.report_runless_asset_event(AssetMaterialization(key))


def _sensor_verdicts(checks: FreshnessChecks, instance, kafka, cursor: str | None = None):
    """Run the freshness sensor once as the daemon does (it stores the sensor's asset events as run-less events);
    ({asset: passed}, {asset: description}, cursor)."""
    sensor = checks.sensor_definition()
    with build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={"kafka": kafka, "freshness_settings": FreshnessSettings(bronze_seconds=LIMIT, models_seconds=LIMIT)},
    ) as ctx:
        result = sensor(ctx)
    for event in result.asset_events:
        instance.report_runless_asset_event(event)
    return (
        {e.asset_key: e.passed for e in result.asset_events},
        {e.asset_key: e.description for e in result.asset_events},
        result.cursor,
    )


def test_bronze_is_stale_only_while_unread_records_wait_too_long(instance, resources, fresh_topic):
    kafka = resources["kafka"]
    checks = FreshnessChecks([BronzeTarget(BRONZE, fresh_topic)], [])
    _updated(instance, BRONZE)
    time.sleep(LIMIT + 1)

    quiet, _, _ = _sensor_verdicts(checks, instance, kafka)
    _produce(kafka, fresh_topic, 30)
    just_arrived, _, _ = _sensor_verdicts(checks, instance, kafka)  # bronze last updated long ago: still fine
    time.sleep(LIMIT + 1)
    waited, why, _ = _sensor_verdicts(checks, instance, kafka)
    _updated(instance, BRONZE)  # bronze is moving (a batch landed), though not all is read yet
    moving, _, _ = _sensor_verdicts(checks, instance, kafka)
    time.sleep(LIMIT + 1)
    stalled, _, _ = _sensor_verdicts(checks, instance, kafka)
    _mark_read(kafka, fresh_topic)
    caught_up, caught_up_why, _ = _sensor_verdicts(checks, instance, kafka)

    assert quiet == {BRONZE: True}
    assert just_arrived == {BRONZE: True}
    assert waited == {BRONZE: False} and f"30 records of {fresh_topic} unread by bronze" in why[BRONZE]
    assert moving == {BRONZE: True}
    assert stalled == {BRONZE: False}
    assert caught_up == {BRONZE: True} and "no unread records" in caught_up_why[BRONZE]


def test_a_model_table_is_stale_only_while_newer_bronze_data_waits_too_long(instance, resources):
    kafka = resources["kafka"]
    checks = FreshnessChecks([], [ModelTarget(APP, (BRONZE,))])
    _updated(instance, BRONZE)
    never_updated_but_fresh_data, _, _ = _sensor_verdicts(checks, instance, kafka)
    time.sleep(LIMIT + 1)
    never_updated, _, _ = _sensor_verdicts(checks, instance, kafka)
    _updated(instance, APP)
    caught_up, why, _ = _sensor_verdicts(checks, instance, kafka)
    time.sleep(LIMIT + 1)
    quiet, _, _ = _sensor_verdicts(checks, instance, kafka)  # no new bronze data: an old table is fine
    _updated(instance, BRONZE)
    waiting, _, _ = _sensor_verdicts(checks, instance, kafka)
    time.sleep(LIMIT + 1)
    stale, stale_why, _ = _sensor_verdicts(checks, instance, kafka)

    assert never_updated_but_fresh_data == {APP: True}
    assert never_updated == {APP: False}
    assert caught_up == {APP: True} and "no bronze update since" in why[APP]
    assert quiet == {APP: True}
    assert waiting == {APP: True}
    assert stale == {APP: False} and "bronze has had newer data for" in stale_why[APP]


def test_the_sensor_records_a_result_when_the_verdict_changes(instance, resources):
    kafka = resources["kafka"]
    checks = FreshnessChecks([], [ModelTarget(APP, (BRONZE,))])
    _updated(instance, APP)
    first, _, cursor = _sensor_verdicts(checks, instance, kafka)
    same, _, cursor = _sensor_verdicts(checks, instance, kafka, cursor)
    _updated(instance, BRONZE)
    time.sleep(LIMIT + 1)
    changed, _, _ = _sensor_verdicts(checks, instance, kafka, cursor)
    assert (first, same, changed) == ({APP: True}, {}, {APP: False})
    summary = instance.event_log_storage.get_asset_check_summary_records([AssetCheckKey(APP, CHECK_NAME)])
    latest = summary[AssetCheckKey(APP, CHECK_NAME)].last_check_execution_record
    assert latest.status.value == "FAILED" and latest.run_id == ""  # what the asset's Checks tab shows


def test_the_checks_run_from_the_ui_record_the_same_verdicts(instance, resources, fresh_topic):
    kafka = resources["kafka"]
    checks = FreshnessChecks([BronzeTarget(BRONZE, fresh_topic)], [ModelTarget(APP, (BRONZE,))])
    _produce(kafka, fresh_topic, 3)
    _updated(instance, APP)
    time.sleep(LIMIT + 1)
    _updated(instance, BRONZE)  # newer than the table, and bronze itself updated after its records arrived
    time.sleep(LIMIT + 1)
    defs = Definitions(
        assets=[AssetSpec(BRONZE), AssetSpec(APP)],
        asset_checks=[checks.check_definition()],
        jobs=[define_asset_job("freshness", selection=AssetSelection.all_asset_checks())],
        resources={"kafka": kafka, "freshness_settings": FreshnessSettings(bronze_seconds=LIMIT, models_seconds=LIMIT)},
    )
    result = defs.resolve_job_def("freshness").execute_in_process(instance=instance)

    verdicts = {e.asset_key: e.passed for e in result.get_asset_check_evaluations()}
    assert verdicts == {BRONZE: False, APP: False}
    summary = instance.event_log_storage.get_asset_check_summary_records([AssetCheckKey(APP, CHECK_NAME)])
    assert summary[AssetCheckKey(APP, CHECK_NAME)].last_check_execution_record.status.value == "FAILED"
