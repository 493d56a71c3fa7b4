"""The Flink pipelines as assets: materializing one submits its job (or finds it running), with Flink's figures."""
# No `from __future__ import annotations` here: Dagster reads the annotations of asset functions at runtime.

from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, MaterializeResult, MetadataValue, asset

from assets.bronze.topics import TopicSpec
from assets.flink.control import PipelineClients, Submission, submit
from assets.flink.figures import job_figures
from assets.flink.pipelines import KAFKA_TO_MINIO, ORDERS_PER_MINUTE, FlinkPipelineConfig, Pipeline
from resources.definitions import load_settings
from resources.flink import FlinkResource
from resources.kafka import KafkaResource
from resources.object_store import ObjectStoreResource
from resources.postgres import PostgresResource
from resources.redact import redact

DESCRIPTIONS = {
    KAFKA_TO_MINIO: "Flink SQL job dbt_like_sql/flink/kafka_to_minio.sql: "
    "Kafka → s3://<bucket>/bronze/flink/<topic>/ "
    "(JSON lines by event date and hour, committed on checkpoints; bad records in "
    "bronze/flink_quarantine/<topic>/).",
    ORDERS_PER_MINUTE: "Flink SQL job dbt_like_sql/flink/orders_per_minute.sql: 1-minute event-time windows of "
    "orders → Postgres app.orders_per_minute_flink through the JDBC connector.",
}


def clients(
    flink: FlinkResource, postgres: PostgresResource, object_store: ObjectStoreResource, kafka: KafkaResource
) -> PipelineClients:
    """The resources of a pipeline run, bundled."""
    return PipelineClients(flink, postgres, object_store, kafka.bootstrap_servers)


def submission_metadata(flink: FlinkResource, done: Submission, secrets: list[str]) -> dict[str, object]:
    """Materialization metadata of a submission: what was sent (any password or `secrets` masked: Dagster keeps
    and shows metadata) and Flink's figures of the job."""
    sent = redact(";\n\n".join(done.statements), secrets)
    return {
        "already_running": done.already_running,
        "savepoint_restored": done.savepoint_path or "",
        "statements": MetadataValue.md("```sql\n" + sent + ";\n```"),
        **job_figures(flink, done.job_id),
    }


def build_flink_asset(pipeline: Pipeline) -> AssetsDefinition:
    """The asset whose materialization runs `pipeline` as a Flink job."""
    upstream = AssetKey(["kafka", TopicSpec(load_settings().flink_topic).name])

    @asset(
        key=pipeline.asset_key,
        deps=[upstream],
        group_name="flink",
        kinds={"flink", "kafka"},
        description=DESCRIPTIONS[pipeline],
    )
    def _flink_pipeline(
        context: AssetExecutionContext,
        config: FlinkPipelineConfig,
        flink: FlinkResource,
        postgres: PostgresResource,
        object_store: ObjectStoreResource,
        kafka: KafkaResource,
    ) -> MaterializeResult:
        bundle = clients(flink, postgres, object_store, kafka)
        done = submit(pipeline, config, bundle, context.log.info)
        return MaterializeResult(metadata=submission_metadata(flink, done, bundle.secrets()))

    return _flink_pipeline


def flink_assets() -> list[AssetsDefinition]:
    """bronze/flink and app/orders_per_minute_flink."""
    return [build_flink_asset(KAFKA_TO_MINIO), build_flink_asset(ORDERS_PER_MINUTE)]
