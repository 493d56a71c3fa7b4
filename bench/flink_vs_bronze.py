"""Benchmark: the Flink SQL pipeline Kafka -> object store beside the Dagster micro-batch bronze path,
on the same 1,000,000-event backlog as bench/bronze_ingest.py.

    .venv/bin/python bench/flink_vs_bronze.py [--events 1000000] [--parallelism 3]

Needs the stack with Flink (`lakehouse up --with flink`). Writes to its own bucket and database.
Prints figures; asserts nothing about time.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assets.flink.control import PipelineClients, submit  # noqa: E402
from assets.flink.figures import job_figures  # noqa: E402
from assets.flink.pipelines import KAFKA_TO_MINIO, FlinkPipelineConfig  # noqa: E402
from bench.bronze_ingest import make_backlog  # noqa: E402
from infra.stack.config import StackConfig  # noqa: E402
from infra.stack.sandbox import sandbox  # noqa: E402
from resources.definitions import platform_resources  # noqa: E402
from resources.migrations import apply_migrations  # noqa: E402
from tests.flink_harness import committed_objects  # noqa: E402


def committed_lines(store, prefix: str) -> int:
    """JSON lines in the committed objects under `prefix`."""
    return sum(body.count(b"\n") for body in committed_objects(store, prefix))


def flink_phase(topic: str, events: int, parallelism: int, clients: PipelineClients) -> dict:
    """Submit the pipeline on the backlog; time it by Flink's source counter and by committed output."""
    config = FlinkPipelineConfig(topic=topic, job_name=f"bench-{topic}", checkpoint_interval="5s",
                                 parallelism=parallelism)
    t0 = time.monotonic()
    job_id = submit(KAFKA_TO_MINIO, config, clients, lambda msg: print(msg, file=sys.stderr)).job_id
    submitted = time.monotonic()
    first_read = all_read = None
    while all_read is None:
        read = job_figures(clients.flink, job_id)["records_read"]
        now = time.monotonic()
        if read > 0 and first_read is None:
            first_read = (now, read)
        if read >= events:
            all_read = now
        time.sleep(1)
    # Records become visible with the next checkpoint (and its compaction): count once it has completed.
    after = clients.flink.checkpoints(job_id)["counts"]["completed"]
    while clients.flink.checkpoints(job_id)["counts"]["completed"] < after + 1:
        time.sleep(0.5)
    prefix = f"bronze/flink/{topic}/"
    while (landed := committed_lines(clients.object_store, prefix)) < events:
        time.sleep(5)
    done = time.monotonic()
    clients.flink.cancel(job_id)
    return {
        "submit_seconds": submitted - t0,
        "own_rate": (events - first_read[1]) / max(all_read - first_read[0], 1e-3),
        "wall_seconds": done - t0, "landed": landed,
    }


def bronze_phase(topic: str) -> dict:
    """The bronze path on the same topic, as bench/bronze_ingest.py runs it (sensor + runs, 2 at a time)."""
    child = subprocess.run([sys.executable, str(Path(__file__).with_name("bronze_ingest.py")), "--phase", "bronze",
                            "--topic", topic, "--concurrency", "2"], capture_output=True, text=True, check=True)
    return json.loads(child.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--parallelism", type=int, default=3, help="Flink parallelism (the topic has 3 partitions)")
    args = parser.parse_args()
    topic = f"bench-orders-{uuid.uuid4().hex[:6]}"
    os.environ["BRONZE_TOPICS"] = f"lab-events:text,orders:json:orders,{topic}:json:orders"
    res = platform_resources()
    t0 = time.monotonic()
    make_backlog(topic, args.events)
    print(f"backlog: {args.events:,} events on {topic} in {time.monotonic() - t0:.1f}s")
    with sandbox(StackConfig.from_env(), res["object_store"], res["postgres"], prefix="bench") as (store, postgres):
        apply_migrations(postgres.url)
        clients = PipelineClients(res["flink"], postgres, store, res["kafka"].bootstrap_servers)
        flink = flink_phase(topic, args.events, args.parallelism, clients)
    wall_rate = args.events / flink["wall_seconds"]
    print(f"flink (parallelism {args.parallelism}, checkpoints every 5 s): submitted and first checkpoint in "
          f"{flink['submit_seconds']:.1f}s; {flink['own_rate']:,.0f} records/s by its source counter; "
          f"{flink['landed']:,} records committed in {flink['wall_seconds']:.1f}s = {wall_rate:,.0f} records/s wall")
    bronze = bronze_phase(topic)
    bronze_rate = bronze["records"] / bronze["seconds"]
    print(f"bronze (sensor + {bronze['runs']} runs, 2 at a time): {bronze['records']:,} records in "
          f"{bronze['seconds']:.1f}s = {bronze_rate:,.0f} records/s")
    print(f"ratio flink/bronze: {wall_rate / bronze_rate:.2f} (wall), "
          f"{flink['own_rate'] / bronze_rate:.2f} (Flink's counter)")


if __name__ == "__main__":
    main()
