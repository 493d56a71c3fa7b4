"""Jobs that start, stop and resume the Spark Structured Streaming pipelines, and the sensor that watches them."""

from dagster import (
    AssetObservation,
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

from assets.spark import (
    KAFKA_TO_MINIO,
    ORDERS_PER_MINUTE,
    PIPELINES,
    Pipeline,
    SparkPipelineConfig,
    clients,
    expected_running,
    progress_figures,
    resume,
    spark_assets,
    start_metadata,
    stop,
)
from resources.kafka import KafkaResource
from resources.object_store import ObjectStoreResource
from resources.postgres import PostgresResource
from resources.spark import SparkResource, spark_resource

WATCH_INTERVAL_SECONDS = 30
CONTROL_TAGS = {"dagster/priority": "10"}  # someone waits on these in the UI (as for the Flink jobs)
START_JOBS = {  # pipeline -> (job name, description)
    KAFKA_TO_MINIO: (
        "spark_kafka_to_minio",
        "Start the Spark streaming query Kafka → object store (or report its driver running)",
    ),
    ORDERS_PER_MINUTE: (
        "spark_orders_per_minute",
        "Start the Spark streaming 1-minute windows into Postgres (or report its driver running)",
    ),
}


class SparkControlConfig(SparkPipelineConfig):
    """Which pipeline to act on (kafka_to_minio or orders_per_minute), and its settings."""

    pipeline: str = "kafka_to_minio"


def _pipeline(name: str) -> Pipeline:
    if name not in PIPELINES:
        raise ValueError(f"unknown Spark pipeline {name!r}; choose one of {sorted(PIPELINES)}")
    return PIPELINES[name]


@op(description="Stop the pipeline's Spark query; its checkpoint on the object store keeps where it was")
def stop_spark_pipeline(
    context: OpExecutionContext,
    config: SparkControlConfig,
    spark: SparkResource,
    postgres: PostgresResource,
    object_store: ObjectStoreResource,
    kafka: KafkaResource,
) -> None:
    pipeline = _pipeline(config.pipeline)
    row = stop(pipeline, config, clients(spark, postgres, object_store, kafka), context.log.info)
    context.log_event(AssetObservation(pipeline.asset_key, metadata=progress_figures(row)))


@op(description="Start the pipeline's Spark query again from its checkpoint (after spark_stop)")
def resume_spark_pipeline(
    context: OpExecutionContext,
    config: SparkControlConfig,
    spark: SparkResource,
    postgres: PostgresResource,
    object_store: ObjectStoreResource,
    kafka: KafkaResource,
) -> None:
    pipeline = _pipeline(config.pipeline)
    done = resume(pipeline, config, clients(spark, postgres, object_store, kafka), context.log.info)
    context.log_event(AssetObservation(pipeline.asset_key, metadata=start_metadata(done)))


@job(description="Stop a Spark pipeline (config: pipeline); resume it with spark_resume", tags=CONTROL_TAGS)
def spark_stop():
    stop_spark_pipeline()


@job(description="Resume a stopped Spark pipeline from its checkpoint (config: pipeline)", tags=CONTROL_TAGS)
def spark_resume():
    resume_spark_pipeline()


@sensor(
    minimum_interval_seconds=WATCH_INTERVAL_SECONDS,
    default_status=DefaultSensorStatus.RUNNING,
    description="Every 30 s: Spark's progress of each running Spark pipeline (rows/s, batch duration, watermark, "
    "state rows); fails with Spark's exception when a query failed or its driver is gone",
)
def spark_queries_sensor(context: SensorEvaluationContext, postgres: PostgresResource):
    expected = expected_running(postgres.url)
    if not expected:
        return SkipReason("no Spark pipeline is expected to run (start one with spark_kafka_to_minio)")
    problems, events = [], []
    for row in expected:
        if row.status == "failed":
            problems.append(f"Spark query {row.job_name} (pipeline {row.pipeline}) failed:\n{row.error}")
        elif not row.alive():
            problems.append(
                f"the Spark driver of {row.job_name} (pid {row.pid} on {row.host}) has not reported for "
                f"{row.silent_for():.0f}s: it died or was stopped behind the platform's back (`lakehouse "
                f"down`); see `lakehouse logs spark`, then start it again with its start job"
            )
        else:
            events.append(AssetObservation(PIPELINES[row.pipeline].asset_key, metadata=progress_figures(row)))
    if problems:
        raise RuntimeError("\n\n".join(problems))
    return SensorResult(asset_events=events)


def spark_definitions() -> Definitions:
    """The Spark pipelines' assets, their start/stop/resume jobs and the sensor, to merge into the code location."""
    assets = spark_assets()
    by_key = {a.key: a for a in assets}
    starts = [
        define_asset_job(
            name, selection=AssetSelection.assets(by_key[p.asset_key]), description=what, tags=CONTROL_TAGS
        )
        for p, (name, what) in START_JOBS.items()
    ]
    return Definitions(
        assets=assets,
        jobs=[*starts, spark_stop, spark_resume],
        sensors=[spark_queries_sensor],
        resources={"spark": spark_resource()},
    )
