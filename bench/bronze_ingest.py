"""Benchmark: ingest a 1,000,000-event backlog from Kafka to bronze, beside kcat and the lab's per-message script.

    .venv/bin/python bench/bronze_ingest.py [--events 1000000] [--slice 10000]

Needs the stack (`lakehouse up`). Prints figures; asserts nothing about time.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from confluent_kafka import Consumer  # noqa: E402
from confluent_kafka.admin import NewTopic  # noqa: E402
from dagster import DagsterInstance  # noqa: E402

from assets.bronze.topics import TopicSpec  # noqa: E402
from infra.generator import GeneratorSpec, produce  # noqa: E402
from resources.definitions import platform_resources  # noqa: E402


def make_backlog(topic: str, events: int) -> float:
    """Create `topic` (3 partitions, like orders) and fill it; return payload MB."""
    res = platform_resources()
    admin = res["kafka"].admin()
    admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])[topic].result(30)
    report = produce(GeneratorSpec(topic=topic, count=events, rate=0, seed=1), res["kafka"].bootstrap_servers)
    assert not report.failed, report.failed[:3]
    return report.delivered


def kcat_rate(topic: str, events: int, bootstrap: str) -> float:
    """Records/s of `kcat -C -e` reading the whole topic to /dev/null."""
    t0 = time.monotonic()
    subprocess.run(["kcat", "-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-q"],
                   stdout=subprocess.DEVNULL, check=True)
    return events / (time.monotonic() - t0)


def _run_one(topic: str, request) -> dict:
    """Execute one run request in this (worker) process; return its materialization figures."""
    from tests.bronze_harness import BronzeHarness

    harness = BronzeHarness(TopicSpec(topic, "json", "orders"), DagsterInstance.ephemeral())
    result = harness.run(request)
    meta = result.asset_materializations_for_node(harness.asset.op.name)[0].metadata
    return {"records": meta["records_landed"].value + meta["records_quarantined"].value,
            "bytes": meta["bytes_read"].value, "objects": len(meta["objects"].value),
            "seconds": meta["duration_s"].value,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def bronze_phase(topic: str, concurrency: int) -> dict:
    """Run in a child process: the topic's sensor plans every batch, then the runs execute `concurrency`
    at a time, each in its own process, as Dagster's queued run coordinator launches them."""
    from concurrent.futures import ProcessPoolExecutor

    from tests.bronze_harness import BronzeHarness

    harness = BronzeHarness(TopicSpec(topic, "json", "orders"), DagsterInstance.ephemeral())
    t0 = time.monotonic()
    requests = []
    while batch := harness.tick():
        requests.extend(batch)
    with ProcessPoolExecutor(max_workers=concurrency) as pool:
        runs = list(pool.map(_run_one, [topic] * len(requests), requests))
    return {
        "seconds": time.monotonic() - t0, "runs": len(runs),
        "records": sum(r["records"] for r in runs), "bytes": sum(r["bytes"] for r in runs),
        "objects": sum(r["objects"] for r in runs), "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        "run_seconds": sum(r["seconds"] for r in runs),
    }


def per_message_phase(topic: str, count: int) -> float:
    """A faithful replica of the lab's script: poll, add processed_at, one put_object per message. Returns records/s."""
    res = platform_resources()
    store = res["object_store"]
    s3 = store.client()
    consumer = Consumer({"bootstrap.servers": res["kafka"].bootstrap_servers, "group.id": f"bench-{uuid.uuid4()}",
                         "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    done, t0 = 0, time.monotonic()
    while done < count:
        msg = consumer.poll(5)
        if msg is None or msg.error():
            continue
        record = json.loads(msg.value())
        record["processed_at"] = datetime.now(timezone.utc).isoformat()
        key = f"bench/per-message/{topic}/{msg.partition()}-{msg.offset()}.json"
        s3.put_object(Bucket=store.bucket, Key=key, Body=json.dumps(record).encode())
        done += 1
    consumer.close()
    return count / (time.monotonic() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--slice", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=2, help="runs at a time (the machine has 2 cores)")
    parser.add_argument("--phase", choices=("bronze",), help=argparse.SUPPRESS)
    parser.add_argument("--topic", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase == "bronze":
        print(json.dumps(bronze_phase(args.topic, args.concurrency)))
        return

    bootstrap = platform_resources()["kafka"].bootstrap_servers
    topic = f"bench-orders-{uuid.uuid4().hex[:6]}"
    t0 = time.monotonic()
    make_backlog(topic, args.events)
    print(f"backlog: {args.events} events on {topic} in {time.monotonic() - t0:.1f}s")
    kcat = kcat_rate(topic, args.events, bootstrap)
    print(f"(a) kcat -C -e to /dev/null: {kcat:,.0f} records/s")
    child = subprocess.run([sys.executable, __file__, "--phase", "bronze", "--topic", topic,
                            "--concurrency", str(args.concurrency)],
                           capture_output=True, text=True, check=True)
    bronze = json.loads(child.stdout.strip().splitlines()[-1])
    rate = bronze["records"] / bronze["seconds"]
    print(f"bronze (sensor + {bronze['runs']} runs, {args.concurrency} at a time): "
          f"{bronze['records']:,} records in {bronze['seconds']:.1f}s = "
          f"{rate:,.0f} records/s, {bronze['bytes'] / bronze['seconds'] / 1e6:.1f} MB/s, "
          f"{bronze['objects']} objects, peak RSS of a run {bronze['peak_rss_mb']:.0f} MB "
          f"(time inside runs {bronze['run_seconds']:.1f}s)")
    per_message = per_message_phase(topic, args.slice)
    print(f"(b) lab's one-object-per-message script on {args.slice:,} events: {per_message:,.0f} records/s "
          f"-> {args.events / per_message / 60:.1f} min for {args.events:,} (extrapolated)")
    print(f"ratios: bronze/kcat = {rate / kcat:.2f}   bronze/per-message = {rate / per_message:.0f}x")


if __name__ == "__main__":
    main()
