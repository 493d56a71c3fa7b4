"""Test harness for the bronze path: a topic's asset, job and sensor on a real Dagster instance."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import zstandard
from dagster import AssetSelection, DagsterInstance, Definitions, build_sensor_context

from assets.bronze.assets import build_bronze_asset, kafka_topic_spec
from assets.bronze.ranges import read_topic_id
from assets.bronze.topics import TopicSpec
from orchestration.bronze import bronze_job, bronze_sensor, gap_check
from resources.definitions import platform_resources


@dataclass
class BronzeHarness:
    """One topic wired exactly as orchestration/definitions.py wires the configured ones."""

    spec: TopicSpec
    instance: DagsterInstance
    cursor: str | None = None
    pending: dict = field(default_factory=dict)  # run key -> the run created for it, until `run` executes it
    events: list = field(default_factory=list)  # the asset events of the latest tick

    def __post_init__(self) -> None:
        self.asset = build_bronze_asset(self.spec)
        self.job_def = bronze_job(self.spec, self.asset, AssetSelection.assets())
        self.sensor_def = bronze_sensor(self.spec, self.asset, self.job_def, interval_s=1)
        self.check_def = gap_check(self.spec, self.asset, self.job_def.name)
        self.resources = platform_resources()
        self.settings(sensor_wait_seconds=0)  # ticks return at once; tests/test_bronze.py tests the wait

    @property
    def topic_id(self) -> str:
        """Kafka's id of the harness's topic."""
        return read_topic_id(self.resources["kafka"], self.spec.topic)

    def settings(self, **overrides) -> None:
        """Run with these BronzeSettings fields changed (as a deployment would configure them)."""
        current = self.resources["bronze_settings"]
        self.use(bronze_settings=type(current)(**{**current.model_dump(), **overrides}))

    def use(self, **resources) -> None:
        """Run with these resources instead (a sandbox's object store and Postgres, say)."""
        self.resources.update(resources)
        self.defs = Definitions(
            assets=[kafka_topic_spec(self.spec), self.asset],
            jobs=[self.job_def],
            asset_checks=[self.check_def],
            sensors=[self.sensor_def],
            resources=self.resources,
        )
        self.job = self.defs.resolve_job_def(self.job_def.name)

    def tick(self) -> list:
        """Evaluate the sensor once, keep its cursor, and create a run for each request as the daemon does
        (NOT_STARTED until `run` executes it); return the requests."""
        context = build_sensor_context(
            instance=self.instance,
            cursor=self.cursor,
            definitions=self.defs,
            resources=self.resources,
            sensor_name=self.sensor_def.name,
        )
        data = self.sensor_def.evaluate_tick(context)
        self.cursor = data.cursor if data.cursor is not None else self.cursor
        self.events = list(data.asset_events or [])
        requests = list(data.run_requests or [])
        for request in requests:
            self.pending[request.run_key] = self.instance.create_run_for_job(
                self.job, run_config=request.run_config, tags={**request.tags, "dagster/run_key": request.run_key}
            )
        return requests

    def run(self, request, raise_on_error: bool = True):
        """Execute one requested run in process (standing in for the run `tick` created); return the result."""
        placeholder = self.pending.pop(request.run_key, None)
        if placeholder is not None:
            self.instance.delete_run(placeholder.run_id)
        return self.job.execute_in_process(
            run_config=request.run_config, instance=self.instance, tags=request.tags, raise_on_error=raise_on_error
        )

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
            Bucket=store.bucket, Prefix=f"bronze/{layer}/{self.spec.topic}/"
        ):
            for obj in page.get("Contents", []):
                body = s3.get_object(Bucket=store.bucket, Key=obj["Key"])["Body"].read()
                found[obj["Key"]] = [json.loads(line) for line in object_text(body).splitlines()]
        return found

    def offsets(self, layer: str) -> list[tuple[int, int]]:
        """(partition, offset) of every line in `layer`, duplicates kept."""
        return [
            (line["_kafka"]["partition"], line["_kafka"]["offset"])
            for lines in self.objects(layer).values()
            for line in lines
        ]


def object_text(body: bytes) -> bytes:
    """The JSON lines of a bronze object's body (one zstd frame whose size the header does not state)."""
    return zstandard.ZstdDecompressor().decompressobj().decompress(body)


def check_results(result) -> dict[str, bool]:
    """check name -> passed, for the asset checks evaluated in one run."""
    return {
        e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }
