"""Benchmark: change data capture lag at a few change rates, from a commit in the application database to the
change record on Kafka, and to the row in the mirror app.orders_cdc; the Kafka Connect worker's start time and memory.

    .venv/bin/python bench/cdc_lag.py [--rates 100,1000] [--seconds 20] [--restart-worker] [--no-mirror]

Needs the stack with Connect (`lakehouse up --with connect`). Kafka phase: a database, slot, topic and connector of
its own (tests/support/cdc.py), removed afterwards; the lag of a change is the time its record reached this consumer
(polling with fetch.wait.max.ms=10) minus its commit time in Postgres (the envelope's source.ts_ms).
Mirror phase, the path of infra/dev.sh: a private `dagster dev` (its own Dagster database) whose lake is a sandbox
(own bucket and database) and whose only bronze topic is dbserver1.app.orders; its cdc_automation_sensor registers
the platform's connector shop-orders on database shop (left registered, as under infra/dev.sh), the bronze sensor
launches a run per micro-batch, and each run lands bronze and applies the change log to the mirror. The application
writes to shop; the lag of a row is the mirror's applied_at minus its last change's commit time (source.ts_ms),
over the rows (and deletes) whose last change was committed during the run. Both clocks are this machine's.
--restart-worker stops and starts the worker to time it: only on a stack nobody else uses. Prints figures; asserts
nothing about time.
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

from datetime import datetime, timezone  # noqa: E402

import psycopg  # noqa: E402
from confluent_kafka import Consumer, TopicPartition  # noqa: E402

from infra.app import AppSpec, run, shop_conninfo  # noqa: E402
from infra.stack import proc, stack  # noqa: E402
from infra.stack.config import StackConfig  # noqa: E402
from infra.stack.sandbox import sandbox  # noqa: E402
from resources.definitions import platform_resources  # noqa: E402
from tests.support.cdc import CdcHarness  # noqa: E402
from tests.support.dagster_dev import isolated_platform_env, private_dagster  # noqa: E402

CDC_TOPIC = "dbserver1.app.orders"
# The mirror's rows and deletes whose last change was committed in [%(began)s, %(ended)s]: lag in seconds.
MIRROR_LAGS = (
    "SELECT extract(epoch FROM applied_at - committed_at) FROM (SELECT applied_at, committed_at FROM "
    "app.orders_cdc UNION ALL SELECT applied_at, committed_at FROM app.orders_cdc_deletes) applied "
    "WHERE committed_at BETWEEN %(began)s AND %(ended)s"
)


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
    consumer = Consumer(
        {
            "bootstrap.servers": harness.cfg.kafka_bootstrap,
            "group.id": f"bench-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "fetch.wait.max.ms": 10,
            "log_level": 0,
        }
    )
    partition = TopicPartition(harness.topic, 0)
    _, partition.offset = consumer.get_watermark_offsets(partition, timeout=10)
    consumer.assign([partition])
    lags: list[float] = []
    done = threading.Event()
    report = {}

    def write() -> None:
        try:
            report["app"] = run(
                shop_conninfo(harness.cfg.pg_url, harness.dbname), AppSpec(rate=rate, duration=seconds, seed=int(rate))
            )
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
    return {
        "target_rate": rate,
        "achieved_rate": round(changes / app.elapsed, 1),
        "changes": changes,
        "records_timed": len(lags),
        "lag_p50_ms": round(statistics.median(lags)),
        "lag_p95_ms": round(percentile(lags, 0.95)),
        "lag_max_ms": round(max(lags)),
    }


def mirror_caught_up(lake_url: str, shop_url: str, timeout: float) -> float:
    """Wait until the mirror holds the source's last change (its newest commit time has reached the source's newest
    updated_at); the seconds it took."""
    began = time.monotonic()
    with psycopg.connect(shop_url) as shop:
        newest = shop.execute("SELECT max(updated_at) FROM app.orders").fetchone()[0]
    while time.monotonic() - began < timeout:
        with psycopg.connect(lake_url) as lake:
            mirrored = lake.execute(
                "SELECT greatest((SELECT max(committed_at) FROM app.orders_cdc), "
                "(SELECT max(committed_at) FROM app.orders_cdc_deletes))"
            ).fetchone()[0]
        if newest is None or (mirrored is not None and mirrored >= newest.replace(microsecond=0)):
            return round(time.monotonic() - began, 1)
        time.sleep(1)
    raise TimeoutError(f"the mirror did not catch up with the application within {timeout:.0f}s")


def measure_mirror(lake_url: str, shop_url: str, rate: float, seconds: float) -> dict[str, object]:
    """Run the application at `rate` on database shop, wait for the mirror, and read the lag of what it applied."""
    began = datetime.now(timezone.utc)
    app = run(shop_url, AppSpec(rate=rate, duration=seconds, seed=int(rate) + 1))
    ended = datetime.now(timezone.utc)
    waited = mirror_caught_up(lake_url, shop_url, timeout=600)
    with psycopg.connect(lake_url) as lake:
        lags = [float(row[0]) for row in lake.execute(MIRROR_LAGS, {"began": began, "ended": ended}).fetchall()]
    changes = sum(app.counts[k] for k in ("inserts", "updates", "deletes"))
    return {
        "target_rate": rate,
        "achieved_rate": round(changes / app.elapsed, 1),
        "changes": changes,
        "rows_timed": len(lags),
        "caught_up_after_run_s": waited,
        "lag_p50_s": round(statistics.median(lags), 2),
        "lag_p95_s": round(percentile(lags, 0.95), 2),
        "lag_max_s": round(max(lags), 2),
    }


def mirror_phase(cfg: StackConfig, rates: list[float], seconds: float) -> list[dict[str, object]]:
    """The path of infra/dev.sh under a private `dagster dev` over a sandbox lake (see the module docstring)."""
    configured = platform_resources()
    resources = {name: configured[name].process_config_and_initialize() for name in ("object_store", "postgres")}
    shop_url = shop_conninfo(cfg.pg_url)
    with (
        sandbox(cfg, resources["object_store"], resources["postgres"], prefix="bench_cdc") as (store, lake),
        private_dagster(
            cfg,
            env=isolated_platform_env(f"{CDC_TOPIC}:json:debezium", store.bucket, lake.url, resources["postgres"].url),
        ) as dagster,
    ):
        started = time.monotonic()
        dagster.start()
        run(shop_url, AppSpec(rate=0, count=1, seed=0))  # once the connector runs, this change ends the backlog
        warm = mirror_caught_up(lake.url, shop_url, timeout=900)
        print(
            f"dagster dev up and the mirror caught up with {CDC_TOPIC} in {time.monotonic() - started:.0f}s "
            f"({warm:.0f}s after the first change)",
            file=sys.stderr,
        )
        return [measure_mirror(lake.url, shop_url, rate, seconds) for rate in rates]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="100,1000", help="changes per second, comma-separated")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long each rate runs")
    parser.add_argument("--restart-worker", action="store_true", help="stop and start the worker to time its start")
    parser.add_argument("--no-mirror", action="store_true", help="only the Kafka phase (no dagster dev)")
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
    if not args.no_mirror:
        figures["mirror_lag"] = mirror_phase(cfg, [float(rate) for rate in args.rates.split(",")], args.seconds)
    figures["worker_memory_after_mib"] = rss_mib(pid)
    print(json.dumps(figures, indent=2))
    out = Path(__file__).resolve().parent / "results" / f"cdc_lag-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
