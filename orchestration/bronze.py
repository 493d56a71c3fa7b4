"""Per-topic jobs and sensors: each sensor polls Kafka and requests one run per new micro-batch of offsets."""
from datetime import datetime, timedelta, timezone

from dagster import (
    AssetSelection,
    AssetsDefinition,
    DagsterInstance,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunConfig,
    RunRequest,
    RunsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    define_asset_job,
    sensor,
)

from assets.bronze.asset import BronzeBatchConfig
from assets.bronze.ranges import decode_cursor, encode_cursor, plan_batches, read_watermarks, run_key
from assets.bronze.topics import TopicSpec
from resources.kafka import KafkaResource
from resources.settings import setting

DEFAULT_RECORD_BYTES = 1024  # estimate before the first batch tells the real average


def bronze_job(spec: TopicSpec, bronze: AssetsDefinition):
    """The job that materializes one batch of a topic's bronze asset (with its checks)."""
    return define_asset_job(f"bronze_{spec.name}", selection=AssetSelection.assets(bronze),
                            description=f"Land one micro-batch of Kafka topic {spec.topic} in bronze",
                            tags={"kafka/topic": spec.topic})


def records_per_run(instance: DagsterInstance, bronze: AssetsDefinition) -> int:
    """The per-run record cap: BRONZE_MAX_RECORDS, lowered so the batch stays under BRONZE_MAX_BYTES
    at the average record size of the latest batch."""
    max_records, max_bytes = int(setting("BRONZE_MAX_RECORDS")), int(setting("BRONZE_MAX_BYTES"))
    avg = DEFAULT_RECORD_BYTES
    event = instance.get_latest_materialization_event(bronze.key)
    if event is not None and event.asset_materialization is not None:
        meta = event.asset_materialization.metadata
        records = meta["records_landed"].value + meta["records_quarantined"].value if "records_landed" in meta else 0
        if records:
            avg = max(1, meta["bytes_read"].value // records)
    return max(1, min(max_records, max_bytes // avg))


def relaunch_requests(instance: DagsterInstance, job_name: str) -> list[RunRequest]:
    """Batches whose run was created but never launched (say the daemon died between creating and
    submitting it): cancel that run and request its batch again, so no offset range is left behind."""
    cutoff = datetime.now(timezone.utc) - timedelta(seconds=int(setting("BRONZE_STALE_RUN_SECONDS")))
    stale = instance.get_runs(filters=RunsFilter(job_name=job_name, statuses=[DagsterRunStatus.NOT_STARTED],
                                                 created_before=cutoff))
    requests = []
    for run in stale:
        instance.report_run_canceled(run, message="never launched: its batch is requested again")
        requests.append(RunRequest(
            run_key=f"{run.tags.get('dagster/run_key', run.run_id)}#relaunch-{run.run_id[:8]}",
            run_config=run.run_config,
            tags={k: v for k, v in run.tags.items() if k in ("kafka/topic", "dagster/max_retries")},
        ))
    return requests


def bronze_sensor(spec: TopicSpec, bronze: AssetsDefinition, job) -> SensorDefinition:
    """Sensor for one topic: compare the cursor with the partitions' watermarks and request runs in offset order."""
    op_name = bronze.op.name

    @sensor(
        name=f"bronze_{spec.name}_sensor",
        job=job,
        minimum_interval_seconds=int(setting("BRONZE_SENSOR_INTERVAL_SECONDS")),
        default_status=DefaultSensorStatus.RUNNING,
        description=f"Polls Kafka topic {spec.topic} and requests a bronze run per new batch of offsets",
    )
    def _sensor(context: SensorEvaluationContext, kafka: KafkaResource):
        watermarks = read_watermarks(kafka, spec.topic)
        batches, cursor = plan_batches(
            decode_cursor(context.cursor), watermarks,
            max_records=records_per_run(context.instance, bronze),
            max_runs=int(setting("BRONZE_MAX_RUNS_PER_TICK")),
        )
        requests = relaunch_requests(context.instance, job.name) + [
            RunRequest(
                run_key=run_key(spec.topic, ranges),
                run_config=RunConfig(ops={op_name: BronzeBatchConfig(
                    ranges={str(p): [s, e] for p, (s, e) in ranges.items()})}),
                tags={"kafka/topic": spec.topic, "dagster/max_retries": "2"},
            )
            for ranges in batches
        ]
        if not requests:
            return SkipReason(f"no new records on {spec.topic}")
        return SensorResult(run_requests=requests, cursor=encode_cursor(cursor))

    return _sensor
