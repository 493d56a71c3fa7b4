"""Benchmark: the Spark Structured Streaming pipeline Kafka -> object store on the 1,000,000-event backlog of
bench/bronze_ingest.py (and, with --bronze, the Dagster micro-batch bronze path on the same topic).

    .venv/bin/python bench/spark_vs_bronze.py [--events 1000000] [--max-offsets-per-trigger 250000] [--bronze]

Needs the stack with Spark (`lakehouse up --with spark`). The query gets its own bucket, database and checkpoint,
so it reads the whole backlog. Prints the start-up time (start job until the first micro-batch is committed and
visible), Spark's own rate (records of the committed batches over their durations), the wall rate (start until
every record is visible), and the driver's memory (peak resident set of its JVM, and of its Python process).
Prints figures; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assets.spark import KAFKA_TO_MINIO, SparkPipelineConfig, stop
from assets.spark.control import PipelineClients, start
from assets.spark.state import get
from bench.bronze_ingest import make_backlog
from bench.flink_vs_bronze import CommittedLines, bronze_phase
from infra.stack.config import StackConfig
from infra.stack.sandbox import sandbox
from resources.definitions import platform_resources
from resources.postgres import PostgresResource
from resources.settings import setting
from resources.spark import spark_resource


def peak_rss_mb(pid: int) -> float:
    """VmHWM (peak resident set) of a process, in MB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def jvm_of(pid: int) -> int | None:
    """The driver's JVM: the java child of its Python process."""
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False).stdout.split()
    return next((int(c) for c in children if "java" in Path(f"/proc/{c}/comm").read_text()), None)


def spark_phase(topic: str, events: int, max_offsets: int, clients: PipelineClients) -> dict:
    config = SparkPipelineConfig(
        topic=topic, job_name=f"bench-{topic}", trigger_interval="1 second", max_offsets_per_trigger=max_offsets
    )
    committed = CommittedLines(clients.object_store, f"bronze/spark/{topic}/")
    t0 = time.monotonic()
    row = start(KAFKA_TO_MINIO, config, clients, lambda msg: print(msg, file=sys.stderr)).row
    started = time.monotonic()
    pid, jvm, peaks, batches = row.pid, None, {"jvm": 0.0, "python": 0.0}, {}
    first = None
    try:
        while (landed := committed()) < events:
            now = time.monotonic()
            if landed and first is None:
                first = now
            jvm = jvm or jvm_of(pid)
            peaks = {
                "jvm": max(peaks["jvm"], peak_rss_mb(jvm) if jvm else 0.0),
                "python": max(peaks["python"], peak_rss_mb(pid)),
            }
            progress = get(clients.postgres.url, config.job_name_for(KAFKA_TO_MINIO)).progress or {}
            if progress.get("numInputRows"):
                batches[progress["batchId"]] = (
                    progress["numInputRows"],
                    progress["durationMs"]["triggerExecution"] / 1000,
                )
            time.sleep(0.5)
        done = time.monotonic()
    finally:
        stop(KAFKA_TO_MINIO, config, clients, lambda msg: None)
    rows, seconds = sum(n for n, _ in batches.values()), sum(s for _, s in batches.values())
    later = [batches[b] for b in sorted(batches)[1:]]  # the first batch also starts the Python workers and the JIT
    steady = sum(n for n, _ in later) / sum(s for _, s in later) if later else 0.0
    return {
        "steady_rate": steady,
        "start_seconds": started - t0,
        "first_batch_seconds": (first or done) - t0,
        "wall_seconds": done - t0,
        "landed": landed,
        "own_rate": rows / seconds if seconds else 0.0,
        "batches_seen": len(batches),
        "jvm_mb": peaks["jvm"],
        "python_mb": peaks["python"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument(
        "--max-offsets-per-trigger",
        type=int,
        default=250_000,
        help="records per micro-batch (0: the whole backlog in one)",
    )
    parser.add_argument("--bronze", action="store_true", help="also run the bronze micro-batch phase")
    args = parser.parse_args()
    topic = f"bench-orders-{uuid.uuid4().hex[:6]}"
    os.environ["BRONZE_TOPICS"] = f"lab-events:text,orders:json:orders,{topic}:json:orders"
    res = platform_resources()
    postgres = PostgresResource(url=setting("PG_URL"))
    t0 = time.monotonic()
    make_backlog(topic, args.events)
    print(
        f"backlog: {args.events:,} events on {topic} (3 partitions) in {time.monotonic() - t0:.1f}s "
        f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
    )
    spark = spark_resource()
    with sandbox(StackConfig.from_env(), res["object_store"], postgres, prefix="bench") as (store, pg):
        figures = spark_phase(
            topic,
            args.events,
            args.max_offsets_per_trigger,
            PipelineClients(spark, pg, store, res["kafka"].bootstrap_servers),
        )
    wall_rate = args.events / figures["wall_seconds"]
    print(
        f"spark {spark.master}, {args.max_offsets_per_trigger or 'all'} records per micro-batch: driver up and "
        f"query started in {figures['start_seconds']:.1f}s, first batch committed and visible after "
        f"{figures['first_batch_seconds']:.1f}s; {figures['own_rate']:,.0f} records/s over its "
        f"{figures['batches_seen']} batches' durations, {figures['steady_rate']:,.0f} records/s after the first; "
        f"{figures['landed']:,} records visible in "
        f"{figures['wall_seconds']:.1f}s = {wall_rate:,.0f} records/s wall; driver memory: JVM peak "
        f"{figures['jvm_mb']:,.0f} MB RSS, Python {figures['python_mb']:,.0f} MB "
        f"(load average {os.getloadavg()[0]:.1f})"
    )
    if args.bronze:
        bronze = bronze_phase(topic)
        rate = bronze["records"] / bronze["seconds"]
        print(
            f"bronze (sensor + {bronze['runs']} runs, 2 at a time): {bronze['records']:,} records in "
            f"{bronze['seconds']:.1f}s = {rate:,.0f} records/s; spark/bronze {wall_rate / rate:.2f} (wall)"
        )


if __name__ == "__main__":
    main()
