"""Test harness for the bronze path: a topic's asset, job and sensor on a real Dagster instance."""
from __future__ import annotations

import json
from dataclasses import dataclass

import zstandard
from dagster import DagsterInstance, Definitions, build_sensor_context

from assets.bronze.asset import build_bronze_asset, kafka_topic_spec
from assets.bronze.topics import TopicSpec
from orchestration.bronze import bronze_job, bronze_sensor
from resources.definitions import platform_resources


@dataclass
class BronzeHarness:
    """One topic wired exactly as orchestration/definitions.py wires the configured ones."""

    spec: TopicSpec
    instance: DagsterInstance
    cursor: str | None = None

    def __post_init__(self) -> None:
        self.asset = build_bronze_asset(self.spec)
        self.job_def = bronze_job(self.spec, self.asset)
        self.sensor_def = bronze_sensor(self.spec, self.asset, self.job_def)
        self.resources = platform_resources()
        self.defs = Definitions(assets=[kafka_topic_spec(self.spec), self.asset], jobs=[self.job_def],
                                sensors=[self.sensor_def], resources=self.resources)
        self.job = self.defs.resolve_job_def(self.job_def.name)

    def tick(self) -> list:
        """Evaluate the sensor once, keep its cursor, return its run requests."""
        context = build_sensor_context(instance=self.instance, cursor=self.cursor, definitions=self.defs,
                                       resources=self.resources, sensor_name=self.sensor_def.name)
        data = self.sensor_def.evaluate_tick(context)
        self.cursor = data.cursor if data.cursor is not None else self.cursor
        return list(data.run_requests or [])

    def run(self, request, raise_on_error: bool = True):
        """Execute one run request in process; return the execution result."""
        return self.job.execute_in_process(run_config=request.run_config, instance=self.instance,
                                           tags=request.tags, raise_on_error=raise_on_error)

    def drain(self) -> list:
        """Tick and run until the sensor has nothing left; return the runs' results."""
        results = []
        while requests := self.tick():
            results.extend(self.run(request) for request in requests)
        return results

    def objects(self, layer: str) -> dict[str, list[dict]]:
        """Every object of this topic in `layer` ('stream' or 'quarantine'), key -> its JSON lines."""
        store = self.resources["object_store"]
        s3 = store.client()
        found = {}
        for page in s3.get_paginator("list_objects_v2").paginate(
                Bucket=store.bucket, Prefix=f"bronze/{layer}/{self.spec.topic}/"):
            for obj in page.get("Contents", []):
                body = s3.get_object(Bucket=store.bucket, Key=obj["Key"])["Body"].read()
                found[obj["Key"]] = [json.loads(line) for line in object_text(body).splitlines()]
        return found

    def offsets(self, layer: str) -> list[tuple[int, int]]:
        """(partition, offset) of every line in `layer`, duplicates kept."""
        return [(line["_kafka"]["partition"], line["_kafka"]["offset"])
                for lines in self.objects(layer).values() for line in lines]


def object_text(body: bytes) -> bytes:
    """The JSON lines of a bronze object's body (one zstd frame whose size the header does not state)."""
    return zstandard.ZstdDecompressor().decompressobj().decompress(body)


def check_results(result) -> dict[str, bool]:
    """check name -> passed, for the asset checks evaluated in one run."""
    return {e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed
            for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}
