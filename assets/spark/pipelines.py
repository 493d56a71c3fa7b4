"""The two Spark Structured Streaming pipelines and their configuration."""

from __future__ import annotations

from dataclasses import dataclass

from dagster import AssetKey, Config

from resources.spark import SparkResource


@dataclass(frozen=True)
class Pipeline:
    """One query module of dbt_like_sql/spark/ run by its own driver."""

    name: str  # kafka_to_minio | orders_per_minute: the module's name and the default job name's middle
    asset_key: AssetKey
    needs_schema: str | None  # the topic schema the query reads fields of, if any


KAFKA_TO_MINIO = Pipeline("kafka_to_minio", AssetKey(["bronze", "spark"]), None)  # keys name where data lives
ORDERS_PER_MINUTE = Pipeline("orders_per_minute", AssetKey(["app", "orders_per_minute_spark"]), "orders")
PIPELINES = {p.name: p for p in (KAFKA_TO_MINIO, ORDERS_PER_MINUTE)}


class SparkPipelineConfig(Config):
    """What a Spark pipeline reads, how it runs, and under which name. An empty topic is the `spark` resource's
    (SPARK_TOPIC): see `resolved`."""

    topic: str = ""
    job_name: str = ""  # default: lakehouse-<pipeline>-<topic>; names the query and its checkpoint
    trigger_interval: str = ""  # default: the Spark resource's (SPARK_TRIGGER_INTERVAL)
    watermark_delay_seconds: int = 5
    max_offsets_per_trigger: int = 0  # 0: each micro-batch takes everything new
    wait_seconds: float = 180.0  # for the driver to start its query

    def resolved(self, spark: SparkResource) -> SparkPipelineConfig:
        """This config with its empty topic taken from the resource: what a run actually uses."""
        return self.model_copy(update={"topic": self.topic or spark.topic})

    def job_name_for(self, pipeline: Pipeline) -> str:
        """The query's name: the identity that makes a second start report the running driver."""
        if not self.topic:
            raise ValueError("resolve the pipeline config against the spark resource first (config.resolved)")
        return self.job_name or f"lakehouse-{pipeline.name}-{self.topic}"
