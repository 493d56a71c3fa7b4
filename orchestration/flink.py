"""Jobs that submit, stop and resume the Flink SQL pipelines, and the sensor that watches them."""

import json

from dagster import (
    AssetMaterialization,
    AssetObservation,
    AssetsDefinition,
    AssetSelection,
    DefaultSensorStatus,
    Definitions,
    OpExecutionContext,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    define_asset_job,
    job,
    op,
    sensor,
)

from assets.flink import (
    KAFKA_TO_MINIO,
    ORDERS_PER_MINUTE,
    PIPELINES,
    FlinkPipelineConfig,
    Pipeline,
    assess,
    clients,
    expected_running,
    flink_assets,
    resume,
    stop_with_savepoint,
    submission_metadata,
)
from resources.flink import FlinkResource
from resources.kafka import KafkaResource
from resources.object_store import ObjectStoreResource
from resources.postgres import PostgresResource

WATCH_INTERVAL_SECONDS = 30
# Someone is waiting on these in the UI: the queued run coordinator starts them before queued
# micro-batches (each takes seconds, and the micro-batches catch up right after).
CONTROL_TAGS = {"dagster/priority": "10"}


class FlinkControlConfig(FlinkPipelineConfig):
    """Which pipeline to act on (kafka_to_minio or orders_per_minute), and its settings."""

    pipeline: str = "kafka_to_minio"


def _pipeline(name: str) -> Pipeline:
    if name not in PIPELINES:
        raise ValueError(f"unknown Flink pipeline {name!r}; choose one of {sorted(PIPELINES)}")
    return PIPELINES[name]


def submit_job(asset_def: AssetsDefinition, name: str, what: str):
    """The job that submits one pipeline (materializes its asset)."""
    return define_asset_job(name, selection=AssetSelection.assets(asset_def), description=what, tags=CONTROL_TAGS)


SUBMIT_JOBS = {  # pipeline -> (job name, description)
    KAFKA_TO_MINIO: (
        "flink_kafka_to_minio",
        "Submit the Flink SQL pipeline Kafka → object store (or report it running)",
    ),
    ORDERS_PER_MINUTE: (
        "flink_orders_per_minute",
        "Submit the Flink SQL 1-minute windows into Postgres (or report it running)",
    ),
}


@op(description="Stop the pipeline's running Flink job with a savepoint in the object store")
def stop_flink_pipeline(
    context: OpExecutionContext,
    config: FlinkControlConfig,
    flink: FlinkResource,
    postgres: PostgresResource,
    object_store: ObjectStoreResource,
    kafka: KafkaResource,
) -> None:
    pipeline = _pipeline(config.pipeline)
    job_id, path = stop_with_savepoint(
        pipeline, config, clients(flink, postgres, object_store, kafka), context.log.info
    )
    context.log_event(
        AssetObservation(
            pipeline.asset_key, metadata={"flink_job_id": job_id, "flink_state": "FINISHED", "savepoint": path}
        )
    )


@op(description="Start the pipeline again from the savepoint of its last stop")
def resume_flink_pipeline(
    context: OpExecutionContext,
    config: FlinkControlConfig,
    flink: FlinkResource,
    postgres: PostgresResource,
    object_store: ObjectStoreResource,
    kafka: KafkaResource,
) -> None:
    pipeline = _pipeline(config.pipeline)
    bundle = clients(flink, postgres, object_store, kafka)
    done = resume(pipeline, config, bundle, context.log.info)
    context.log_event(
        AssetMaterialization(pipeline.asset_key, metadata=submission_metadata(flink, done, bundle.secrets()))
    )


@job(description="Stop a Flink pipeline with a savepoint (config: pipeline)", tags=CONTROL_TAGS)
def flink_stop_with_savepoint():
    stop_flink_pipeline()


@job(description="Resume a Flink pipeline from its latest savepoint (config: pipeline)", tags=CONTROL_TAGS)
def flink_resume_from_savepoint():
    resume_flink_pipeline()


@sensor(
    minimum_interval_seconds=WATCH_INTERVAL_SECONDS,
    default_status=DefaultSensorStatus.RUNNING,
    description="Every 30 s: figures of each running Flink pipeline; fails naming the root exception "
    "when one failed, is stuck restarting or is missing",
)
def flink_jobs_sensor(context: SensorEvaluationContext, flink: FlinkResource, postgres: PostgresResource):
    expected = expected_running(postgres)
    if not expected:
        return SkipReason("no Flink pipeline is expected to run (submit one with flink_kafka_to_minio)")
    verdict = assess(flink, expected, json.loads(context.cursor or "{}"))
    context.update_cursor(json.dumps(verdict.memory))
    if verdict.problems:
        raise RuntimeError("\n\n".join(verdict.problems))
    keys = {job.job_name: PIPELINES[job.pipeline].asset_key for job in expected}
    return SensorResult(
        asset_events=[AssetObservation(keys[name], metadata=figures) for name, figures in verdict.figures.items()]
    )


def flink_definitions() -> Definitions:
    """The Flink pipelines' assets, their submit/stop/resume jobs and the sensor, to merge into the code location."""
    assets = flink_assets()
    by_key = {a.key: a for a in assets}
    submits = [submit_job(by_key[p.asset_key], *SUBMIT_JOBS[p]) for p in (KAFKA_TO_MINIO, ORDERS_PER_MINUTE)]
    return Definitions(
        assets=assets,
        jobs=[*submits, flink_stop_with_savepoint, flink_resume_from_savepoint],
        sensors=[flink_jobs_sensor],
    )
