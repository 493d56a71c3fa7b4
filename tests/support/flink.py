"""Test harness for the Flink pipelines: their jobs and sensor on a sandbox bucket and database."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from confluent_kafka import Producer
from dagster import DagsterInstance, Definitions, build_sensor_context

from assets.bronze.topics import TopicSpec
from assets.bronze.transform import KafkaRecord, Outcome, transform
from assets.flink import KAFKA_TO_MINIO, Pipeline
from orchestration.flink import SUBMIT_JOBS, flink_definitions, flink_jobs_sensor
from resources.definitions import platform_resources
from resources.object_store import ObjectStoreResource
from resources.postgres import PostgresResource


def bronze_outcome(spec: TopicSpec, payload: bytes, max_message_bytes: int, kafka: dict | None = None) -> Outcome:
    """What the bronze path does with `payload` on a topic like `spec` (at the Kafka coordinates of a line's
    `_kafka`, when given)."""
    kafka = kafka or {}
    timestamp = kafka.get("timestamp")
    record = KafkaRecord(
        spec.topic,
        kafka.get("partition", 0),
        kafka.get("offset", 0),
        int(datetime.fromisoformat(timestamp).timestamp() * 1000) if timestamp else None,
        kafka["key"].encode() if kafka.get("key") is not None else None,
        payload,
    )
    return transform(record, spec, "2026-01-01T00:00:00.000Z", max_message_bytes)


# Kinds of quarantine reasons, by a word each kind's reasons hold (checked in this order).
REASON_KINDS = (
    ("tombstone", "tombstone"),
    ("oversized", "oversized"),
    ("malformed", "malformed JSON"),
    ("utf-8", "not UTF-8"),
    ("object", "not an object"),
    ("reserved", "reserved field"),
    ("duplicate", "duplicate field"),
    ("nul character", "NUL character"),
)


def category(reason: str | None) -> str | None:
    """The kind of a quarantine reason, on which Flink and bronze must agree ("field 'amount'", "missing field
    'status'", "malformed JSON", "NUL character"…); the wording may differ."""
    if reason is None:
        return None
    missing = re.search(r"missing field '(\w+)'", reason)
    if missing:
        return f"missing field '{missing[1]}'"
    field = re.match(r"schema \w+: field '(\w+)'", reason)
    if field:
        return f"field '{field[1]}'"
    return next((kind for word, kind in REASON_KINDS if word in reason.lower()), reason)


def committed_objects(store: ObjectStoreResource, prefix: str) -> Iterator[bytes]:
    """The bodies of the files a Flink file sink (or a Spark write) committed under `prefix`: in-progress, marker
    and staging files or folders, named `.…` or `_…` (`_SUCCESS`, Spark's `_temporary/`), left out."""
    s3 = store.client()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=store.bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            if not any(part.startswith((".", "_")) for part in obj["Key"][len(prefix) :].split("/")):
                yield s3.get_object(Bucket=store.bucket, Key=obj["Key"])["Body"].read()


@dataclass
class FlinkHarness:
    """The Flink jobs wired as orchestration/definitions.py wires them, on a sandbox and one topic."""

    topic: str
    store: ObjectStoreResource
    postgres: PostgresResource
    instance: DagsterInstance = field(default_factory=DagsterInstance.ephemeral)

    def __post_init__(self) -> None:
        self.resources = {**platform_resources(), "object_store": self.store, "postgres": self.postgres}
        self.defs = Definitions.merge(flink_definitions(), Definitions(resources=self.resources))
        self.flink = self.resources["flink"]

    def config(self, pipeline: Pipeline = KAFKA_TO_MINIO, **overrides: object) -> dict:
        """The pipeline's config in this sandbox: its own job name, quick checkpoints."""
        return {"topic": self.topic, "job_name": self.job_name(pipeline), "checkpoint_interval": "2s", **overrides}

    def job_name(self, pipeline: Pipeline) -> str:
        return f"test-{pipeline.name}-{self.topic}"

    def run(self, job: str, op_config: dict, raise_on_error: bool = True):
        """Execute a Dagster job in process; its single op (or asset) gets `op_config`."""
        job_def = self.defs.resolve_job_def(job)
        op_name = job_def.graph.node_defs[0].name
        return job_def.execute_in_process(
            run_config={"ops": {op_name: {"config": op_config}}}, instance=self.instance, raise_on_error=raise_on_error
        )

    def submit(self, pipeline: Pipeline = KAFKA_TO_MINIO, **overrides: object):
        return self.run(SUBMIT_JOBS[pipeline][0], self.config(pipeline, **overrides))

    def tick(self):
        """Evaluate the watching sensor once."""
        context = build_sensor_context(
            instance=self.instance, definitions=self.defs, resources=self.resources, sensor_name=flink_jobs_sensor.name
        )
        return flink_jobs_sensor.evaluate_tick(context)

    def produce(self, values: list[bytes]) -> None:
        """Send raw payloads to the topic, keyed so they spread over its partitions."""
        producer = Producer({"bootstrap.servers": self.resources["kafka"].bootstrap_servers, "linger.ms": 20})
        for n, value in enumerate(values):
            producer.produce(self.topic, value, str(n).encode())
            if n % 10_000 == 0:
                producer.poll(0)
        assert producer.flush(60) == 0, "Kafka did not take every test record"

    def sink_lines(self, prefix: str) -> list[dict]:
        """Every JSON line of every committed (visible, not hidden) object under `prefix`."""
        return [
            json.loads(line)
            for body in committed_objects(self.store, prefix)
            for line in body.splitlines()
            if line.strip()
        ]

    def wait_for_lines(self, prefix: str, count: int, timeout: float = 120.0) -> list[dict]:
        """The sink's lines once there are at least `count` (or what there is after `timeout`)."""
        deadline = time.monotonic() + timeout
        while True:
            lines = self.sink_lines(prefix)
            if len(lines) >= count or time.monotonic() > deadline:
                return lines
            time.sleep(2)

    def cancel_all(self) -> None:
        """Cancel every Flink job of this harness (the sandbox database is about to be dropped)."""
        for job in self.flink.jobs():
            if self.topic in job["name"] and job["state"] not in ("FINISHED", "FAILED", "CANCELED"):
                self.flink.cancel(job["jid"])
