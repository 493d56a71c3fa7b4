"""The bronze asset of one topic: a Dagster asset whose every run lands one micro-batch of offset ranges."""
# No `from __future__ import annotations` here: Dagster reads the annotations of asset functions at runtime.

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    Config,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)

from assets.bronze import ledger
from assets.bronze.ingest import BatchResult, ingest_batch
from assets.bronze.ranges import Ranges, read_topic_id
from assets.bronze.topics import TopicSpec
from assets.bronze.transform import iso_ms
from resources.bronze import BronzeSettings
from resources.kafka import KafkaResource
from resources.object_store import ObjectStoreResource
from resources.postgres import PostgresResource

CHECK_ACCOUNTED = "records_accounted_for"
CHECK_RETENTION = "no_records_lost_to_retention"
CHECK_LAG = "consumer_lag_below_threshold"
CHECK_NO_GAPS = "no_gaps"


class BronzeBatchConfig(Config):
    """The offset ranges of one micro-batch, as requested by the topic's sensor: {"<partition>": [start, end)},
    and the Kafka id of the topic they belong to (a re-created topic has a new one)."""

    ranges: dict[str, list[int]]
    topic_id: str
    commit_consumer_group: bool = True


def kafka_topic_spec(spec: TopicSpec) -> AssetSpec:
    """The Kafka topic itself, as the upstream (external) asset of its bronze asset."""
    return AssetSpec(
        key=AssetKey(["kafka", spec.name]),
        description=f"Kafka topic `{spec.topic}`",
        kinds={"kafka"},
        group_name="kafka",
    )


def bronze_asset_key(spec: TopicSpec) -> AssetKey:
    """bronze/<topic name>."""
    return AssetKey(["bronze", spec.name])


def _metadata(result: BatchResult, store: ObjectStoreResource) -> dict:
    rate = (result.landed + result.quarantined) / result.seconds if result.seconds else 0.0
    meta: dict = {
        "topic": result.topic,
        "ranges": MetadataValue.json({str(p): [s, e] for p, (s, e) in sorted(result.ranges.items())}),
        "records_landed": result.landed,
        "records_quarantined": result.quarantined,
        "tombstones": result.tombstones,  # landed: a delete's tombstone on a topic whose schema expects them
        "quarantine_reasons": MetadataValue.json(result.quarantine_reasons),
        "records_lost_to_retention": result.lost_count,
        "offset_gaps": result.offset_gaps,
        "bytes_read": result.bytes_read,
        "consumer_lag_after": sum(result.lag_after.values()),
        "objects": MetadataValue.json([store.uri(o["key"]) for o in result.objects]),
        "duration_s": round(result.seconds, 3),
        "records_per_s": round(rate, 1),
        "consumer_group_committed": result.group_commit_error is None,
    }
    if result.event_time:
        meta["min_event_time"] = result.event_time[0].isoformat()
        meta["max_event_time"] = result.event_time[1].isoformat()
    if result.kafka_time:
        meta["min_kafka_timestamp"] = iso_ms(result.kafka_time[0])
        meta["max_kafka_timestamp"] = iso_ms(result.kafka_time[1])
    return meta


def _checks(result: BatchResult, store: ObjectStoreResource, lag_alert: int) -> list[AssetCheckResult]:
    s3 = store.client()
    stored = {"bronze": 0, "quarantine": 0}
    for obj in result.objects:
        head = s3.head_object(Bucket=store.bucket, Key=obj["key"])
        stored[obj["layer"]] += int(head["Metadata"].get("records", -1))
    covered = result.landed + result.quarantined + result.offset_gaps + result.lost_count
    accounted = (
        stored["bronze"] == result.landed
        and stored["quarantine"] == result.quarantined
        and covered == result.offsets_in_range
        and result.offset_gaps >= 0
    )
    lag = sum(result.lag_after.values())
    return [
        AssetCheckResult(
            check_name=CHECK_ACCOUNTED,
            passed=accounted,
            metadata={
                "offsets_in_range": result.offsets_in_range,
                "landed": result.landed,
                "quarantined": result.quarantined,
                "offset_gaps": result.offset_gaps,
                "lost": result.lost_count,
                "records_in_bronze_objects": stored["bronze"],
                "records_in_quarantine_objects": stored["quarantine"],
            },
        ),
        AssetCheckResult(
            check_name=CHECK_RETENTION,
            passed=not result.lost,
            metadata={
                "lost_offsets": MetadataValue.json({str(p): [first, last] for p, (first, last) in result.lost.items()}),
            },
        ),
        AssetCheckResult(
            check_name=CHECK_LAG,
            passed=lag <= lag_alert,
            severity=AssetCheckSeverity.WARN,
            metadata={"lag": lag, "threshold": lag_alert},
        ),
    ]


def build_bronze_asset(spec: TopicSpec):
    """The bronze asset (with its checks) for one topic."""
    key = bronze_asset_key(spec)

    @asset(
        key=key,
        deps=[kafka_topic_spec(spec).key],
        group_name="bronze",
        kinds={"s3", "kafka"},
        description=(
            f"Records of Kafka topic `{spec.topic}` ({spec.fmt}"
            f"{', schema ' + spec.schema if spec.schema else ''}) as zstd JSON lines under "
            f"`bronze/stream/{spec.topic}/`, invalid ones under `bronze/quarantine/{spec.topic}/`."
        ),
        check_specs=[
            AssetCheckSpec(
                CHECK_ACCOUNTED,
                asset=key,
                description="landed + quarantined (+ offset gaps, lost) = offsets in the batch, "
                "verified against the objects written",
            ),
            AssetCheckSpec(
                CHECK_RETENTION,
                asset=key,
                description="no offset of the batch was deleted by retention before it was read",
            ),
            AssetCheckSpec(CHECK_LAG, asset=key, description="records still unread after the batch"),
        ],
        op_tags={"kafka/topic": spec.topic},
    )
    def _bronze(
        context: AssetExecutionContext,
        config: BronzeBatchConfig,
        kafka: KafkaResource,
        object_store: ObjectStoreResource,
        postgres: PostgresResource,
        bronze_settings: BronzeSettings,
    ) -> MaterializeResult:
        ranges: Ranges = {int(p): (int(r[0]), int(r[1])) for p, r in config.ranges.items()}
        current = read_topic_id(kafka, spec.topic)
        if current != config.topic_id:
            raise Failure(
                f"{spec.topic} was re-created (topic id {current}, this batch is of {config.topic_id}): "
                "nothing read; the sensor ingests the new topic from its start"
            )
        result = ingest_batch(
            kafka,
            object_store,
            spec,
            ranges,
            max_bytes=bronze_settings.max_bytes,
            max_message_bytes=bronze_settings.max_message_bytes,
            commit_group=config.commit_consumer_group,
            topic_id=config.topic_id,
        )
        with postgres.connect() as conn:  # after the objects are written: the ledger only says what is there
            ledger.record_landed(conn, spec.topic, config.topic_id, ranges, context.run.run_id, result.objects)
        if result.group_commit_error:
            context.log.warning(
                f"{spec.topic}: batch landed, but moving consumer group lakehouse-bronze failed: "
                f"{result.group_commit_error}"
            )
        if result.lost:
            context.log.error(
                f"{spec.topic}: offsets deleted by retention before they were read: "
                + ", ".join(f"p{p} {first}..{last}" for p, (first, last) in sorted(result.lost.items()))
            )
        context.log.info(
            f"{spec.topic}: landed {result.landed}, quarantined {result.quarantined} "
            f"in {len(result.objects)} objects ({result.seconds:.2f}s)"
        )
        return MaterializeResult(
            metadata=_metadata(result, object_store),
            check_results=_checks(result, object_store, bronze_settings.lag_alert_records),
        )

    return _bronze
