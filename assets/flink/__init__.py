"""The Flink SQL pipelines: templated statements, submission through the SQL Gateway, and Flink's own figures.

What orchestration/ may use is exported here; the modules behind it are the domain's own business."""

from assets.flink.assets import clients, flink_assets, submission_metadata
from assets.flink.control import resume, stop_with_savepoint
from assets.flink.pipelines import KAFKA_TO_MINIO, ORDERS_PER_MINUTE, PIPELINES, FlinkPipelineConfig, Pipeline
from assets.flink.state import expected_running
from assets.flink.watch import assess

__all__ = [
    "KAFKA_TO_MINIO",
    "ORDERS_PER_MINUTE",
    "PIPELINES",
    "FlinkPipelineConfig",
    "Pipeline",
    "assess",
    "clients",
    "expected_running",
    "flink_assets",
    "resume",
    "stop_with_savepoint",
    "submission_metadata",
]
