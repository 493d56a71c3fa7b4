"""Test harness for the Spark pipelines: their jobs and sensor on a sandbox bucket and database, real drivers."""

from __future__ import annotations

import time
from dataclasses import dataclass

from dagster import Definitions, build_sensor_context

from assets.spark import KAFKA_TO_MINIO, Pipeline
from assets.spark.launcher import alive
from assets.spark.state import QueryRow, desire_stop, get
from orchestration.spark import START_JOBS, spark_definitions, spark_queries_sensor
from resources.definitions import platform_resources
from resources.spark import spark_resource
from tests.support.flink import FlinkHarness


@dataclass
class SparkHarness(FlinkHarness):
    """The Spark jobs wired as orchestration/spark.py wires them, on a sandbox and one topic (the Flink harness's
    Kafka, object-store and Dagster plumbing)."""

    def __post_init__(self) -> None:
        self.resources = {
            **platform_resources(),
            "spark": spark_resource(),
            "object_store": self.store,
            "postgres": self.postgres,
        }
        spark = spark_definitions()
        self.defs = Definitions(assets=spark.assets, jobs=spark.jobs, sensors=spark.sensors, resources=self.resources)

    def config(self, pipeline: Pipeline = KAFKA_TO_MINIO, **overrides: object) -> dict:
        """The pipeline's config in this sandbox: its own job name (and checkpoint), quick micro-batches."""
        return {
            "topic": self.topic,
            "job_name": self.job_name(pipeline),
            "trigger_interval": "1 second",
            "wait_seconds": 300.0,
            **overrides,
        }

    def submit(self, pipeline: Pipeline = KAFKA_TO_MINIO, **overrides: object):
        return self.run(START_JOBS[pipeline][0], self.config(pipeline, **overrides))

    def control(self, job: str, pipeline: Pipeline = KAFKA_TO_MINIO, **overrides: object):
        """spark_stop or spark_resume on `pipeline`."""
        return self.run(job, {**self.config(pipeline, **overrides), "pipeline": pipeline.name})

    def row(self, pipeline: Pipeline = KAFKA_TO_MINIO) -> QueryRow | None:
        return get(self.postgres.url, self.job_name(pipeline))

    def wait_for_status(
        self, pipeline: Pipeline, status: str, timeout: float = 120.0, progress: bool = False
    ) -> QueryRow:
        """The driver's row once it reports `status` (and, with `progress`, a finished micro-batch's figures)."""
        deadline = time.monotonic() + timeout
        while (row := self.row(pipeline)) is None or row.status != status or (progress and not row.progress):
            assert time.monotonic() < deadline, f"{self.job_name(pipeline)} is {row and row.status}, not {status}"
            time.sleep(1)
        return row

    def tick(self):
        """Evaluate the watching sensor once."""
        context = build_sensor_context(
            instance=self.instance,
            definitions=self.defs,
            resources=self.resources,
            sensor_name=spark_queries_sensor.name,
        )
        return spark_queries_sensor.evaluate_tick(context)

    def cancel_all(self) -> None:
        """Stop every driver of this harness (the sandbox database is about to be dropped) and wait for it."""
        for pipeline in START_JOBS:
            row = self.row(pipeline)
            if row is None:
                continue
            desire_stop(self.postgres.url, row.job_name)
            deadline = time.monotonic() + 60
            while alive(row.pid) and time.monotonic() < deadline:
                time.sleep(1)
