"""The Spark pipelines as assets: materializing one starts its driver (or finds it running), with Spark's figures."""
# No `from __future__ import annotations` here: Dagster reads the annotations of asset functions at runtime.

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    MaterializeResult,
    asset,
)

from assets.bronze.topics import TopicSpec
from assets.spark.control import PipelineClients, Started, start
from assets.spark.figures import progress_figures
from assets.spark.pipelines import (
    KAFKA_TO_MINIO,
    ORDERS_PER_MINUTE,
    Pipeline,
    SparkPipelineConfig,
)
from resources.definitions import load_settings
from resources.kafka import KafkaResource
from resources.object_store import ObjectStoreResource
from resources.postgres import PostgresResource
from resources.spark import SparkResource

DESCRIPTIONS = {
    KAFKA_TO_MINIO: "Spark Structured Streaming query dbt_like_sql/spark/kafka_to_minio.py: Kafka → "
    "s3://<bucket>/bronze/spark/<topic>/batch=<id>/ (bronze's JSON lines, one object per "
    "micro-batch; bad records in bronze/spark_quarantine/<topic>/), checkpoint on the object store.",
    ORDERS_PER_MINUTE: "Spark Structured Streaming query dbt_like_sql/spark/orders_per_minute.py: 1-minute "
    "event-time windows (withWatermark on created_at) → Postgres app.orders_per_minute_spark.",
}


def clients(
    spark: SparkResource, postgres: PostgresResource, object_store: ObjectStoreResource, kafka: KafkaResource
) -> PipelineClients:
    """The resources of a pipeline run, bundled."""
    return PipelineClients(spark, postgres, object_store, kafka.bootstrap_servers)


def start_metadata(done: Started) -> dict[str, object]:
    """Materialization metadata of a start: whether it was already running, and Spark's figures."""
    return {"already_running": done.already_running, "job_name": done.job_name, **progress_figures(done.row)}


def build_spark_asset(pipeline: Pipeline) -> AssetsDefinition:
    """The asset whose materialization runs `pipeline` as a Spark streaming query."""
    upstream = AssetKey(["kafka", TopicSpec(load_settings().spark_topic).name])

    @asset(
        key=pipeline.asset_key,
        deps=[upstream],
        group_name="spark",
        kinds={"spark", "kafka"},
        description=DESCRIPTIONS[pipeline],
    )
    def _spark_pipeline(
        context: AssetExecutionContext,
        config: SparkPipelineConfig,
        spark: SparkResource,
        postgres: PostgresResource,
        object_store: ObjectStoreResource,
        kafka: KafkaResource,
    ) -> MaterializeResult:
        done = start(pipeline, config, clients(spark, postgres, object_store, kafka), context.log.info)
        return MaterializeResult(metadata=start_metadata(done))

    return _spark_pipeline


def spark_assets() -> list[AssetsDefinition]:
    """bronze/spark and app/orders_per_minute_spark."""
    return [build_spark_asset(KAFKA_TO_MINIO), build_spark_asset(ORDERS_PER_MINUTE)]
