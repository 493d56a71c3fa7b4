"""Benchmark: ingest an event backlog from Kafka to bronze, beside kcat and the lab's per-message script.

    .venv/bin/python bench/bronze_ingest.py [--events 1000000] [--slice 10000] [--compare DIR ...]

Besides the sensor-and-runs figure, it times `ingest_batch` in one process per code tree (this one, and each
--compare checkout, e.g. `git worktree add /tmp/bronze-head <commit>`) on the same backlog: CPU and wall
microseconds per record, with the CPU of merely reading the records from Kafka printed as the floor, and the CPU
the broker and the object store used meanwhile. The machine's cores divided by `ingest_batch`'s own CPU per record
is the most bronze could land per second here, even if Kafka, the object store and Dagster cost nothing.
Needs the stack (`lakehouse up`). Prints figures; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# --code DIR (the core phase of another checkout) puts that tree first, so its assets and resources are imported
sys.path.insert(0, sys.argv[sys.argv.index("--code") + 1] if "--code" in sys.argv else str(ROOT))

from confluent_kafka import Consumer  # noqa: E402
from confluent_kafka.admin import NewTopic  # noqa: E402
from dagster import DagsterInstance  # noqa: E402

from assets.bronze.topics import TopicSpec  # noqa: E402
from infra.generator import GeneratorSpec, produce  # noqa: E402
from infra.stack.config import StackConfig  # noqa: E402
from infra.stack.proc import cpu_seconds, running_pid  # noqa: E402
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
    subprocess.run(
        ["kcat", "-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-q"],
        stdout=subprocess.DEVNULL,
        check=True,
    )
    return events / (time.monotonic() - t0)


def core_phase(topic: str, bucket: str, batch_records: int) -> dict:
    """Run in a child process whose sys.path starts with the code tree under test: `ingest_batch` over the
    whole topic, `batch_records` per call (BRONZE_MAX_RECORDS), objects to `bucket`; CPU covers every thread."""
    from assets.bronze.ingest import ingest_batch
    from assets.bronze.topics import TopicSpec as Spec
    from resources.definitions import platform_resources as resources_of_tree
    from resources.object_store import ObjectStoreResource

    res = resources_of_tree()
    main = res["object_store"]
    store = ObjectStoreResource(
        endpoint=main.endpoint,
        access_key=main.access_key,
        secret_key=main.secret_key,
        bucket=bucket,
        region=main.region,
    )
    batches = _slices(res["kafka"], topic, batch_records)
    read_cpu = _read_only(res["kafka"], topic, batches)
    cpu0, wall0, records, written = time.process_time(), time.monotonic(), 0, 0
    for ranges in batches:
        result = ingest_batch(
            res["kafka"],
            store,
            Spec(topic, "json", "orders"),
            ranges,
            max_bytes=64 << 20,
            max_message_bytes=1 << 20,
            commit_group=False,
        )
        records += result.landed + result.quarantined
        written += sum(o["bytes"] for o in result.objects)
    return {
        "records": records,
        "cpu_s": time.process_time() - cpu0,
        "wall_s": time.monotonic() - wall0,
        "read_cpu_s": read_cpu,
        "bytes_written": written,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _slices(kafka, topic: str, size: int) -> list[dict[int, tuple[int, int]]]:
    """The topic's offsets as batches of about `size` records, each covering every partition."""
    from confluent_kafka import TopicPartition

    consumer = kafka.consumer()
    try:
        marks = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            for p in consumer.list_topics(topic, timeout=10).topics[topic].partitions
        }
    finally:
        consumer.close()
    per_partition = max(1, size // len(marks))
    return [
        {p: (start, min(start + per_partition, high)) for p, (low, high) in marks.items() if start < high}
        for start in range(0, max(h for _, h in marks.values()), per_partition)
    ]


def _read_only(kafka, topic: str, batches: list[dict[int, tuple[int, int]]]) -> float:
    """CPU seconds to merely read the same ranges (value, key and timestamp of each record)."""
    from confluent_kafka import TopicPartition

    cpu0 = time.process_time()
    for ranges in batches:
        consumer = kafka.consumer(**{"enable.partition.eof": True})
        consumer.assign([TopicPartition(topic, p, start) for p, (start, _) in ranges.items()])
        todo = dict(ranges)
        while todo:
            for msg in consumer.consume(num_messages=5000, timeout=1.0):
                partition = msg.partition()
                if partition in todo and (msg.error() or msg.offset() >= todo[partition][1] - 1):
                    todo.pop(partition)
                msg.value(), msg.key(), msg.timestamp()
        consumer.close()
    return time.process_time() - cpu0


SERVICES = ("kafka", "s3")  # the stack's processes that serve bronze: the broker and the object store


def _service_cpu() -> dict[str, float]:
    """CPU seconds the broker and the object store have used so far (all threads)."""
    cfg = StackConfig.from_env()
    pids = {name: running_pid(cfg, name) for name in SERVICES}
    return {name: cpu_seconds(pid) for name, pid in pids.items() if pid is not None}


def core_figures(topic: str, trees: list[Path], batch_records: int) -> list[tuple[Path, dict]]:
    """`core_phase` once per code tree, each in its own process and bucket, one after the other, with the CPU the
    broker and the object store spent meanwhile (the read-only pass included: it is the same per tree)."""
    store = platform_resources()["object_store"]
    s3 = store.client()
    figures = []
    for tree in trees:
        bucket = f"bench-core-{uuid.uuid4().hex[:8]}"
        s3.create_bucket(Bucket=bucket)
        try:
            before = _service_cpu()
            child = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--phase",
                    "core",
                    "--topic",
                    topic,
                    "--bucket",
                    bucket,
                    "--batch-records",
                    str(batch_records),
                    "--code",
                    str(tree),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            figure = json.loads(child.stdout.strip().splitlines()[-1])
            after = _service_cpu()
            figure["service_cpu_s"] = {name: after[name] - before[name] for name in before if name in after}
            figures.append((tree, figure))
        finally:
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                if page.get("Contents"):
                    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": o["Key"]} for o in page["Contents"]]})
            s3.delete_bucket(Bucket=bucket)
    return figures


def _run_one(topic: str, request) -> dict:
    """Execute one run request in this (worker) process; return its materialization figures."""
    from tests.support.bronze import BronzeHarness

    harness = BronzeHarness(TopicSpec(topic, "json", "orders"), DagsterInstance.ephemeral())
    result = harness.run(request)
    meta = result.asset_materializations_for_node(harness.asset.op.name)[0].metadata
    return {
        "records": meta["records_landed"].value + meta["records_quarantined"].value,
        "bytes": meta["bytes_read"].value,
        "objects": len(meta["objects"].value),
        "seconds": meta["duration_s"].value,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def bronze_phase(topic: str, concurrency: int) -> dict:
    """Run in a child process: the topic's sensor plans every batch, then the runs execute `concurrency`
    at a time, each in its own process, as Dagster's queued run coordinator launches them."""
    from concurrent.futures import ProcessPoolExecutor

    from tests.support.bronze import BronzeHarness

    harness = BronzeHarness(TopicSpec(topic, "json", "orders"), DagsterInstance.ephemeral())
    t0 = time.monotonic()
    requests = []
    while batch := harness.tick():
        requests.extend(batch)
    with ProcessPoolExecutor(max_workers=concurrency) as pool:
        runs = list(pool.map(_run_one, [topic] * len(requests), requests))
    return {
        "seconds": time.monotonic() - t0,
        "runs": len(runs),
        "records": sum(r["records"] for r in runs),
        "bytes": sum(r["bytes"] for r in runs),
        "objects": sum(r["objects"] for r in runs),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        "run_seconds": sum(r["seconds"] for r in runs),
    }


def per_message_phase(topic: str, count: int) -> float:
    """A faithful replica of the lab's script: poll, add processed_at, one put_object per message. Returns records/s."""
    res = platform_resources()
    store = res["object_store"]
    s3 = store.client()
    consumer = Consumer(
        {
            "bootstrap.servers": res["kafka"].bootstrap_servers,
            "group.id": f"bench-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
        }
    )
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
    parser.add_argument(
        "--compare",
        type=Path,
        action="append",
        default=[],
        help="another checkout whose ingest_batch is timed beside this one's (repeatable)",
    )
    parser.add_argument("--batch-records", type=int, default=100_000, help="records per ingest_batch call")
    parser.add_argument("--core-only", action="store_true", help="skip the sensor-and-runs and per-message phases")
    parser.add_argument("--phase", choices=("bronze", "core"), help=argparse.SUPPRESS)
    parser.add_argument("--topic", help=argparse.SUPPRESS)
    parser.add_argument("--bucket", help=argparse.SUPPRESS)
    parser.add_argument("--code", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase == "bronze":
        print(json.dumps(bronze_phase(args.topic, args.concurrency)))
        return
    if args.phase == "core":
        print(json.dumps(core_phase(args.topic, args.bucket, args.batch_records)))
        return

    bootstrap = platform_resources()["kafka"].bootstrap_servers
    topic = f"bench-orders-{uuid.uuid4().hex[:6]}"
    t0 = time.monotonic()
    make_backlog(topic, args.events)
    try:
        print(f"backlog: {args.events} events on {topic} in {time.monotonic() - t0:.1f}s")
        kcat = kcat_rate(topic, args.events, bootstrap)
        print(f"(a) kcat -C -e to /dev/null: {kcat:,.0f} records/s")
        print_core(topic, [ROOT, *args.compare], args.batch_records)
        if not args.core_only:
            print_runs(topic, args, kcat)
    finally:
        admin = platform_resources()["kafka"].admin()
        admin.delete_topics([topic])[topic].result(30)


def print_core(topic: str, trees: list[Path], batch_records: int) -> None:
    """`ingest_batch` of each code tree on the topic, one line per tree."""
    print(
        f"ingest_batch in one process, {batch_records:,} records per call (CPU includes librdkafka's threads; "
        "'read' is the CPU of merely reading the records, 'transform+write' the rest):"
    )
    print(
        f"  {'code tree':<28} {'wall us/rec':>11} {'CPU us/rec':>10} {'read':>6} {'transform+write':>15} "
        f"{'records/s per core':>18} {'MB written':>10} {'peak RSS MB':>11}"
    )
    figures = core_figures(topic, trees, batch_records)
    for tree, fig in figures:
        n = fig["records"]
        cpu, read = fig["cpu_s"] / n * 1e6, fig["read_cpu_s"] / n * 1e6
        print(
            f"  {str(tree):<28} {fig['wall_s'] / n * 1e6:>11.2f} {cpu:>10.2f} {read:>6.2f} {cpu - read:>15.2f} "
            f"{1e6 / cpu:>18,.0f} {fig['bytes_written'] / 1e6:>10.1f} {fig['peak_rss_mb']:>11.0f}"
        )
    print(f"the most bronze could land per second on this machine's {os.cpu_count()} cores:")
    for tree, fig in figures:
        cpu = record_cpu(fig)
        print(
            f"  {str(tree):<28} {cpu.ceiling:,.0f} rec/s by its own {cpu.own_us:.2f} us/rec, even if the broker and "
            f"the object store cost nothing; {cpu.ceiling_with_services:,.0f} rec/s with what they used meanwhile "
            f"({cpu.services_text})"
        )


def _records_per_second(cpu_us_per_record: float) -> float:
    """Records/s this machine's cores allow at this much CPU a record."""
    return (os.cpu_count() or 1) * 1e6 / cpu_us_per_record


@dataclass(frozen=True)
class RecordCpu:
    """CPU microseconds per record of `ingest_batch` itself, and of each service while it ran (their background
    work included, so an upper bound of what serving bronze cost them)."""

    own_us: float
    services_us: dict[str, float]

    @property
    def ceiling(self) -> float:
        """Records/s this machine's cores allow by bronze's own CPU alone."""
        return _records_per_second(self.own_us)

    @property
    def ceiling_with_services(self) -> float:
        """The same, counting the services' CPU too."""
        return _records_per_second(self.own_us + sum(self.services_us.values()))

    @property
    def services_text(self) -> str:
        return ", ".join(f"{name} {us:.2f} us/rec" for name, us in self.services_us.items())


def record_cpu(fig: dict) -> RecordCpu:
    """A core-phase figure per record."""
    n = fig["records"]
    # the broker served each record twice (the read-only pass, then ingest_batch); the store was written once
    reads = {"kafka": 2}
    services = {name: seconds / (reads.get(name, 1) * n) * 1e6 for name, seconds in fig["service_cpu_s"].items()}
    return RecordCpu(fig["cpu_s"] / n * 1e6, services)


def print_runs(topic: str, args: argparse.Namespace, kcat: float) -> None:
    """The sensor and its runs, then the lab's per-message script, beside kcat."""
    child = subprocess.run(
        [sys.executable, __file__, "--phase", "bronze", "--topic", topic, "--concurrency", str(args.concurrency)],
        capture_output=True,
        text=True,
        check=True,
    )
    bronze = json.loads(child.stdout.strip().splitlines()[-1])
    rate = bronze["records"] / bronze["seconds"]
    print(
        f"bronze (sensor + {bronze['runs']} runs, {args.concurrency} at a time): "
        f"{bronze['records']:,} records in {bronze['seconds']:.1f}s = "
        f"{rate:,.0f} records/s, {bronze['bytes'] / bronze['seconds'] / 1e6:.1f} MB/s, "
        f"{bronze['objects']} objects, peak RSS of a run {bronze['peak_rss_mb']:.0f} MB "
        f"(time inside runs {bronze['run_seconds']:.1f}s)"
    )
    per_message = per_message_phase(topic, args.slice)
    print(
        f"(b) lab's one-object-per-message script on {args.slice:,} events: {per_message:,.0f} records/s "
        f"-> {args.events / per_message / 60:.1f} min for {args.events:,} (extrapolated)"
    )
    print(f"ratios: bronze/kcat = {rate / kcat:.2f}   bronze/per-message = {rate / per_message:.0f}x")


if __name__ == "__main__":
    main()
