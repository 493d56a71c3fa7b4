"""Benchmark: change data capture lag, from a commit in the application database to the change record on Kafka,
at a few change rates; and the Kafka Connect worker's start time and memory.

    .venv/bin/python bench/cdc_lag.py [--rates 100,1000] [--seconds 20] [--restart-worker]

Needs the stack with Connect (`lakehouse up --with connect`); uses a database, slot, topic and connector of its own
(tests/support/cdc.py) and removes them. The lag of a change is the time its record reached this consumer
(polling with fetch.wait.max.ms=10) minus its commit time in Postgres (the envelope's source.ts_ms); both clocks
are this machine's. --restart-worker stops and starts the worker to time it: only on a stack nobody else uses.
Prints figures; asserts nothing about time.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from confluent_kafka import Consumer, TopicPartition  # noqa: E402

from infra.app import AppSpec, run, shop_conninfo  # noqa: E402
from infra.stack import proc, stack  # noqa: E402
from infra.stack.config import StackConfig  # noqa: E402
from tests.support.cdc import CdcHarness  # noqa: E402


def rss_mib(pid: int) -> dict[str, float]:
    """Resident memory of a process now and at its peak (VmRSS, VmHWM), MiB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {key: round(int(fields[key].split()[0]) / 1024, 1) for key in ("VmRSS", "VmHWM")}


def worker_start(cfg: StackConfig) -> float:
    """Seconds from starting the worker's JVM to its health check passing (GET /health, /, the plugin listed)."""
    stack.stop_service(cfg, "connect")
    began = time.monotonic()
    stack.start_service(cfg, stack.service(cfg, "connect"))
    return round(time.monotonic() - began, 1)


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of `values`, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def measure(harness: CdcHarness, rate: float, seconds: float) -> dict[str, object]:
    """Run the application at `rate` changes/s for `seconds` while a consumer times each change's arrival."""
    consumer = Consumer({"bootstrap.servers": harness.cfg.kafka_bootstrap, "group.id": f"bench-{uuid.uuid4().hex}",
                         "enable.auto.commit": False, "fetch.wait.max.ms": 10, "log_level": 0})
    partition = TopicPartition(harness.topic, 0)
    _, partition.offset = consumer.get_watermark_offsets(partition, timeout=10)
    consumer.assign([partition])
    lags: list[float] = []
    done = threading.Event()
    report = {}

    def write() -> None:
        try:
            report["app"] = run(shop_conninfo(harness.cfg.pg_url, harness.dbname),
                                AppSpec(rate=rate, duration=seconds, seed=int(rate)))
        finally:
            done.set()

    writer = threading.Thread(target=write)
    writer.start()
    quiet_since = None
    while True:
        batch = consumer.consume(1000, timeout=0.2)
        now_ms = time.time() * 1000
        lags.extend(now_ms - json.loads(m.value())["source"]["ts_ms"] for m in batch if not m.error() and m.value())
        quiet_since = None if batch else quiet_since or time.monotonic()
        if done.is_set() and quiet_since and time.monotonic() - quiet_since > 3:
            break
    writer.join()
    consumer.close()
    if "app" not in report:
        raise RuntimeError("the application failed: see its traceback above")
    app = report["app"]
    changes = sum(app.counts[k] for k in ("inserts", "updates", "deletes"))
    return {"target_rate": rate, "achieved_rate": round(changes / app.elapsed, 1), "changes": changes,
            "records_timed": len(lags), "lag_p50_ms": round(statistics.median(lags)),
            "lag_p95_ms": round(percentile(lags, 0.95)), "lag_max_ms": round(max(lags))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="100,1000", help="changes per second, comma-separated")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long each rate runs")
    parser.add_argument("--restart-worker", action="store_true", help="stop and start the worker to time its start")
    args = parser.parse_args()
    cfg = StackConfig.from_env()
    figures: dict[str, object] = {}
    if args.restart_worker:
        figures["worker_start_s"] = worker_start(cfg)
    pid = proc.running_pid(cfg, "connect")
    figures["worker_memory_idle_mib"] = rss_mib(pid)
    harness = CdcHarness(cfg)
    try:
        harness.register()
        harness.write(1, seed=0)  # the topic exists from its first record on
        harness.changes(1)
        figures["lag"] = [measure(harness, float(rate), args.seconds) for rate in args.rates.split(",")]
    finally:
        harness.cleanup()
    figures["worker_memory_after_mib"] = rss_mib(pid)
    print(json.dumps(figures, indent=2))
    out = Path(__file__).resolve().parent / "results" / f"cdc_lag-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
