"""Benchmark: the Flink SQL pipeline Kafka -> object store beside the Dagster micro-batch bronze path,
on the same 1,000,000-event backlog as bench/bronze_ingest.py.

    .venv/bin/python bench/flink_vs_bronze.py [--events 1000000] [--parallelism 1 3] [--no-bronze]

Needs the stack with Flink (`lakehouse up --with flink`). Each Flink run gets its own bucket and database and
its own consumer group, so each reads the whole backlog. Per run it prints Flink's source counter (records/s
between the first and the last record read), the wall rate (submission until every record is committed and
visible), and the TaskManager's CPU time per record (its JVM's CPU-time metric: a figure a busy machine
disturbs less than the rates). Prints figures; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assets.flink.control import PipelineClients, submit  # noqa: E402
from assets.flink.pipelines import KAFKA_TO_MINIO, FlinkPipelineConfig  # noqa: E402
from bench.bronze_ingest import make_backlog  # noqa: E402
from infra.stack.config import StackConfig  # noqa: E402
from infra.stack.sandbox import sandbox  # noqa: E402
from resources.definitions import platform_resources  # noqa: E402
from resources.flink import FlinkResource  # noqa: E402
from resources.postgres import PostgresResource  # noqa: E402
from resources.settings import setting  # noqa: E402


class CommittedLines:
    """Counts the JSON lines of the committed objects under a prefix; a committed object never changes, so each is
    read once."""

    def __init__(self, store, prefix: str) -> None:
        self.store, self.prefix, self.counted = store, prefix, {}

    def __call__(self) -> int:
        s3 = self.store.client()
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.store.bucket, Prefix=self.prefix):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                hidden = any(part.startswith((".", "_")) for part in key[len(self.prefix) :].split("/"))
                if key not in self.counted and not hidden:  # markers, in-progress files, Spark's _temporary/
                    body = s3.get_object(Bucket=self.store.bucket, Key=key)["Body"].read()
                    self.counted[key] = body.count(b"\n")
        return sum(self.counted.values())


CHECKPOINT_SECONDS = 5  # the pipeline's checkpoint interval here: Flink commits the files it wrote at each one


def taskmanager_cpu_seconds(flink: FlinkResource) -> float:
    """CPU seconds the cluster's TaskManager JVMs have used so far."""
    return flink.taskmanager_metric_total("Status.JVM.CPU.Time") / 1e9


def source_counter(flink: FlinkResource, job_id: str) -> Callable[[], float]:
    """A cheap reading of the records the job's Kafka source has read (one REST call; job_figures makes many)."""
    source = next(v for v in flink.job(job_id)["vertices"] if v["name"].startswith("Source:"))
    names: list[str] = []

    def read() -> float:
        if not names:  # the source operator's metrics appear once its subtasks run
            names.extend(
                n
                for n in flink.vertex_metric_names(job_id, source["id"])
                if n.startswith("Source__") and n.endswith(".numRecordsOut")
            )
        return sum(flink.vertex_metrics(job_id, source["id"], names).values())

    return read


def flink_phase(topic: str, events: int, parallelism: int, clients: PipelineClients) -> dict:
    """Submit the pipeline on the backlog; time it by Flink's source counter and by committed output."""
    config = FlinkPipelineConfig(
        topic=topic,
        job_name=f"bench-{topic}-p{parallelism}",
        checkpoint_interval=f"{CHECKPOINT_SECONDS}s",
        parallelism=parallelism,
    )
    cpu0, t0 = taskmanager_cpu_seconds(clients.flink), time.monotonic()
    job_id = submit(KAFKA_TO_MINIO, config, clients, lambda msg: print(msg, file=sys.stderr)).job_id
    submitted = time.monotonic()
    try:
        read_records = source_counter(clients.flink, job_id)
        first_read = all_read = None
        while all_read is None:
            read = read_records()
            now = time.monotonic()
            if read > 0 and first_read is None:
                first_read = (now, read)
            if read >= events:
                all_read = now
            time.sleep(0.2)
        cpu = taskmanager_cpu_seconds(clients.flink) - cpu0
        committed_lines = CommittedLines(clients.object_store, f"bronze/flink/{topic}/")
        while (landed := committed_lines()) < events:
            time.sleep(0.5)
        done = time.monotonic()
    finally:
        clients.flink.cancel(job_id)
    return {
        "submit_seconds": submitted - t0,
        "own_rate": (events - first_read[1]) / max(all_read - first_read[0], 1e-3),
        "wall_seconds": done - t0,
        "landed": landed,
        "cpu_us_per_record": cpu / events * 1e6,
        "commit_lag_seconds": done - all_read,
    }


def bronze_phase(topic: str) -> dict:
    """The bronze path on the same topic, as bench/bronze_ingest.py runs it (sensor + runs, 2 at a time)."""
    child = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).with_name("bronze_ingest.py")),
            "--phase",
            "bronze",
            "--topic",
            topic,
            "--concurrency",
            "2",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(child.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument(
        "--parallelism",
        type=int,
        nargs="+",
        default=[1, 3],
        help="Flink parallelism of each run (the topic has 3 partitions)",
    )
    parser.add_argument("--no-bronze", action="store_true", help="skip the bronze micro-batch phase")
    args = parser.parse_args()
    topic = f"bench-orders-{uuid.uuid4().hex[:6]}"
    os.environ["BRONZE_TOPICS"] = f"lab-events:text,orders:json:orders,{topic}:json:orders"
    res = platform_resources()
    postgres = PostgresResource(url=setting("PG_URL"))  # the URL itself: the sandbox derives its own from it
    t0 = time.monotonic()
    make_backlog(topic, args.events)
    print(
        f"backlog: {args.events:,} events on {topic} (3 partitions) in {time.monotonic() - t0:.1f}s "
        f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
    )
    rates = {}
    for parallelism in args.parallelism:
        with sandbox(StackConfig.from_env(), res["object_store"], postgres, prefix="bench") as (store, pg):
            clients = PipelineClients(res["flink"], pg, store, res["kafka"].bootstrap_servers)
            flink = flink_phase(topic, args.events, parallelism, clients)
        rates[parallelism] = (args.events / flink["wall_seconds"], flink["own_rate"])
        print(
            f"flink parallelism {parallelism} (checkpoints every {CHECKPOINT_SECONDS} s): submitted and first "
            f"checkpoint in {flink['submit_seconds']:.1f}s; {flink['own_rate']:,.0f} records/s by its source counter; "
            f"{flink['landed']:,} records committed in {flink['wall_seconds']:.1f}s = {rates[parallelism][0]:,.0f} "
            f"records/s wall (the last committed {flink['commit_lag_seconds']:.1f}s after the last read); "
            f"TaskManager {flink['cpu_us_per_record']:.1f} CPU-us per record "
            f"(load average {os.getloadavg()[0]:.1f})"
        )
    if args.no_bronze:
        return
    bronze = bronze_phase(topic)
    bronze_rate = bronze["records"] / bronze["seconds"]
    print(
        f"bronze (sensor + {bronze['runs']} runs, 2 at a time): {bronze['records']:,} records in "
        f"{bronze['seconds']:.1f}s = {bronze_rate:,.0f} records/s"
    )
    for parallelism, (wall, counter) in rates.items():
        print(
            f"ratio flink/bronze at parallelism {parallelism}: {wall / bronze_rate:.2f} (wall), "
            f"{counter / bronze_rate:.2f} (Flink's counter)"
        )


if __name__ == "__main__":
    main()
