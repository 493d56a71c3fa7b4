"""Freshness you can see: an asset is stale when data has waited for it longer than a configured time.

- A bronze asset is stale when Kafka holds records that the `lakehouse-bronze` consumer group has not read
  (bronze moves the group after each landed batch) and the oldest of them, or the asset's last update if later,
  is older than FRESHNESS_BRONZE_SECONDS. A quiet topic is never stale, nor a record that arrived a second ago
  after a quiet hour.
- A Postgres model table (app/orders, app/orders_per_minute) is stale when a bronze asset upstream of it was
  updated after the table and the first such update is older than FRESHNESS_MODELS_SECONDS.

Dagster's `build_last_update_freshness_checks` cannot say "while data waits" (a quiet topic would be an alarm),
so these are custom checks. The sensor `freshness_checks_sensor` evaluates them every 30 s without launching a
run and records a result on the asset's Checks tab when the verdict changes, or every 5 minutes; the checks can
also be executed from the UI.
"""
# No `from __future__ import annotations` here: Dagster reads the annotations of check and sensor functions.

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from confluent_kafka import KafkaError, TopicPartition
from dagster import (
    AssetCheckEvaluation,
    AssetCheckExecutionContext,
    AssetCheckKey,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    AssetRecordsFilter,
    DagsterInstance,
    DefaultSensorStatus,
    SensorEvaluationContext,
    SensorResult,
    multi_asset_check,
    sensor,
)

from resources.kafka import KafkaResource
from resources.operations import FreshnessSettings

CHECK_NAME = "fresh"
SENSOR_INTERVAL_SECONDS = 30
REPORT_UNCHANGED_EVERY_SECONDS = 300
MODEL_TABLES = (AssetKey(["app", "orders"]), AssetKey(["app", "orders_per_minute"]))


@dataclass(frozen=True)
class Verdict:
    """One evaluation of a freshness check."""

    passed: bool
    description: str
    metadata: dict


@dataclass(frozen=True)
class BronzeTarget:
    """A bronze asset and the Kafka topic it reads."""

    key: AssetKey
    topic: str


@dataclass(frozen=True)
class ModelTarget:
    """A model table and the bronze assets upstream of it."""

    key: AssetKey
    bronze: tuple[AssetKey, ...]


def last_update(instance: DagsterInstance, key: AssetKey) -> tuple[int, float] | None:
    """(storage id, timestamp) of the asset's latest materialization, or None."""
    records = instance.fetch_materializations(AssetRecordsFilter(asset_key=key), limit=1).records
    return (records[0].storage_id, records[0].timestamp) if records else None


def oldest_unread(kafka: KafkaResource, topic: str, timeout: float = 5.0) -> tuple[int, float | None]:
    """(records the lakehouse-bronze group has not read, Kafka timestamp in seconds of the oldest of them — None
    when there are none, or none could be read within `timeout`, e.g. an open transaction holds them)."""
    consumer = kafka.consumer(**{"auto.offset.reset": "earliest", "enable.partition.eof": True})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        committed = consumer.committed([TopicPartition(topic, p) for p in partitions], timeout=10)
        behind, unread = [], 0
        for tp in committed:
            low, high = consumer.get_watermark_offsets(tp, timeout=10)
            start = tp.offset if tp.offset >= low else low
            if high > start:
                unread += high - start
                behind.append(TopicPartition(topic, tp.partition, start))
        if not behind:
            return 0, None
        consumer.assign(behind)
        oldest: dict[int, float] = {}
        deadline = time.monotonic() + timeout
        while len(oldest) < len(behind) and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or msg.partition() in oldest:
                continue
            if msg.error() is None:
                oldest[msg.partition()] = msg.timestamp()[1] / 1000
            elif msg.error().code() == KafkaError._PARTITION_EOF:
                oldest[msg.partition()] = float("inf")  # only control records or aborted ones: nothing waits
            else:
                continue
            consumer.pause([TopicPartition(topic, msg.partition())])
        readable = [t for t in oldest.values() if t != float("inf")]
        return unread, min(readable) if readable else None
    finally:
        consumer.close()


def stale_after(waiting_since: float | None, threshold: float, now: float) -> tuple[bool, float]:
    """(passed, seconds waited): data waiting since `waiting_since` (None: nothing waits) is fine up to
    `threshold` seconds."""
    waited = 0.0 if waiting_since is None else max(0.0, now - waiting_since)
    return waited <= threshold, waited


def judge_bronze(
    instance: DagsterInstance, kafka: KafkaResource, target: BronzeTarget, threshold: float, now: float | None = None
) -> Verdict:
    """The bronze freshness verdict (module docstring)."""
    unread, oldest = oldest_unread(kafka, target.topic)
    updated = last_update(instance, target.key)
    now = time.time() if now is None else now
    since = None if oldest is None else max(oldest, updated[1] if updated else oldest)
    passed, waited = stale_after(since, threshold, now)
    meta = {
        "unread_records": unread,
        "waited_seconds": round(waited, 1),
        "threshold_seconds": threshold,
        "last_updated_timestamp": updated[1] if updated else 0.0,
    }
    if unread == 0:
        return Verdict(True, f"Kafka topic {target.topic} holds no unread records", meta)
    what = f"{unread} records of {target.topic} unread by bronze"
    return Verdict(passed, f"{what}; data waiting {waited:.0f}s (limit {threshold:.0f}s)", meta)


def judge_model(instance: DagsterInstance, target: ModelTarget, threshold: float, now: float | None = None) -> Verdict:
    """The model-table freshness verdict (module docstring)."""
    updated = last_update(instance, target.key)
    firsts = []
    for bronze in target.bronze:
        newer = instance.fetch_materializations(
            AssetRecordsFilter(asset_key=bronze, after_storage_id=updated[0] if updated else None),
            limit=1,
            ascending=True,
        ).records
        if newer:
            firsts.append(newer[0].timestamp)
    now = time.time() if now is None else now
    passed, waited = stale_after(min(firsts) if firsts else None, threshold, now)
    meta = {
        "waited_seconds": round(waited, 1),
        "threshold_seconds": threshold,
        "last_updated_timestamp": updated[1] if updated else 0.0,
    }
    if not firsts:
        return Verdict(True, "no bronze update since this table's last update", meta)
    return Verdict(passed, f"bronze has had newer data for {waited:.0f}s (limit {threshold:.0f}s)", meta)


def _check_spec(key: AssetKey, description: str) -> AssetCheckSpec:
    return AssetCheckSpec(CHECK_NAME, asset=key, description=description, blocking=False)


class FreshnessChecks:
    """The freshness checks of a set of bronze and model assets: their definition and their sensor."""

    def __init__(self, bronze: Sequence[BronzeTarget], models: Sequence[ModelTarget]):
        self.bronze, self.models = list(bronze), list(models)

    def specs(self) -> list[AssetCheckSpec]:
        return [
            _check_spec(
                t.key, f"Kafka topic {t.topic} has no records waiting unread longer than FRESHNESS_BRONZE_SECONDS"
            )
            for t in self.bronze
        ] + [
            _check_spec(t.key, "no bronze data newer than this table has waited longer than FRESHNESS_MODELS_SECONDS")
            for t in self.models
        ]

    def evaluate(
        self,
        instance: DagsterInstance,
        kafka: KafkaResource,
        settings: FreshnessSettings,
        keys: Iterable[AssetKey] | None = None,
    ) -> dict[AssetKey, Verdict]:
        """The verdict of each check (of the assets in `keys`, default all)."""
        wanted = None if keys is None else set(keys)
        verdicts = {}
        for target in self.bronze:
            if wanted is None or target.key in wanted:
                verdicts[target.key] = judge_bronze(instance, kafka, target, settings.bronze_seconds)
        for target in self.models:
            if wanted is None or target.key in wanted:
                verdicts[target.key] = judge_model(instance, target, settings.models_seconds)
        return verdicts

    def check_definition(self):
        """The checks, executable from the UI."""

        @multi_asset_check(specs=self.specs(), can_subset=True, name="freshness_checks")
        def freshness_checks(
            context: AssetCheckExecutionContext, kafka: KafkaResource, freshness_settings: FreshnessSettings
        ):
            selected = {key.asset_key for key in context.selected_asset_check_keys}
            for key, verdict in self.evaluate(context.instance, kafka, freshness_settings, selected).items():
                yield AssetCheckResult(
                    asset_key=key,
                    check_name=CHECK_NAME,
                    passed=verdict.passed,
                    severity=AssetCheckSeverity.WARN,
                    description=verdict.description,
                    metadata=verdict.metadata,
                )

        return freshness_checks

    def sensor_definition(self):
        """Evaluates every check every SENSOR_INTERVAL_SECONDS without a run; records a result when the verdict
        changed or the last recorded one is older than REPORT_UNCHANGED_EVERY_SECONDS."""

        @sensor(
            name="freshness_checks_sensor",
            minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
            default_status=DefaultSensorStatus.RUNNING,
            description="Evaluates the freshness checks of bronze and of the Postgres model tables",
        )
        def freshness_checks_sensor(
            context: SensorEvaluationContext, kafka: KafkaResource, freshness_settings: FreshnessSettings
        ):
            last: dict[str, list] = json.loads(context.cursor or "{}")
            now, events = time.time(), []
            for key, verdict in self.evaluate(context.instance, kafka, freshness_settings).items():
                name = AssetCheckKey(key, CHECK_NAME).to_user_string()
                previous = last.get(name)
                if previous and previous[0] == verdict.passed and now - previous[1] < REPORT_UNCHANGED_EVERY_SECONDS:
                    continue
                last[name] = [verdict.passed, now]
                if not verdict.passed:
                    context.log.warning(f"{key.to_user_string()} is stale: {verdict.description}")
                events.append(
                    AssetCheckEvaluation(
                        asset_key=key,
                        check_name=CHECK_NAME,
                        passed=verdict.passed,
                        severity=AssetCheckSeverity.WARN,
                        description=verdict.description,
                        metadata=verdict.metadata,
                    )
                )
            return SensorResult(asset_events=events, cursor=json.dumps(last))

        return freshness_checks_sensor
