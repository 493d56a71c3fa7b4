"""The Spark Structured Streaming pipelines: drivers started outside Dagster's runs, their state in Postgres.

What orchestration/ may use is exported here; the modules behind it are the domain's own business. (The driver,
assets/spark/driver.py, imports this package too: keep it free of work at import time.)"""

from assets.spark.assets import clients, spark_assets, start_metadata
from assets.spark.control import SparkError, resume, stop
from assets.spark.figures import progress_figures
from assets.spark.pipelines import (
    KAFKA_TO_MINIO,
    ORDERS_PER_MINUTE,
    PIPELINES,
    Pipeline,
    SparkPipelineConfig,
)
from assets.spark.state import expected_running

__all__ = [
    "KAFKA_TO_MINIO",
    "ORDERS_PER_MINUTE",
    "PIPELINES",
    "Pipeline",
    "SparkError",
    "SparkPipelineConfig",
    "clients",
    "expected_running",
    "progress_figures",
    "resume",
    "spark_assets",
    "start_metadata",
    "stop",
]
