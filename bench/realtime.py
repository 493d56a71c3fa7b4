"""Benchmark of issue 11, every figure through the real path, side by side with its peer, as one table.

    .venv/bin/python bench/realtime.py [--markers 20] [--backlog 1000000] [--build-events 10000000]
                                       [--skip latency,throughput,small,build,flink]

On the running stack (`lakehouse up --with flink,superset`), with `dagster dev` started by this script on a private
Dagster instance (tests/support/dagster_dev.py: webserver, daemon, code server and run workers as real
processes; the queue and monitoring settings of infra/dagster/dagster.yaml):
- event → dashboard: marker orders produced to `orders`; each is timed until Superset's chart data API
  (the dashboard chart "Orders by status, last hour", its own saved query) counts it — on a quiet machine, then
  with the generator writing 1,000 events/s;
- bronze throughput: a backlog of `--backlog` events on a fresh 3-partition topic, landed by the sensor and
  the run launcher under `dagster dev` (a second instance whose BRONZE_TOPICS is that topic alone), timed from
  the first run's creation to the last offset in bronze's ledger, beside `kcat -C -e` on the same backlog and
  the lab's one-object-per-message script (bench/bronze_ingest.py) on its first 10,000 events, and the most
  this machine's cores allow: cores / `ingest_batch`'s own CPU per record in a plain process (beside it, with the
  broker's and the object store's CPU meanwhile; bench/bronze_ingest.py);
  the peak memory of a run worker;
- a bronze run for a handful of records, created → success, with the launcher's warm run workers and, beside it,
  with the code server's spawned ones (orchestration/run_launcher.py);
- the full model build from a 10 M-event bronze and one 10k-event batch after it (bench/windows_build.py, in
  process on its own bucket and database), with the floors under it: DuckDB merely parsing bronze, Postgres
  merely inserting the build's orders;
- the Flink SQL pipeline Kafka → object store on a `--backlog` topic at parallelism 1 (bench/flink_vs_bronze.py,
  which also runs parallelism 3 and the bronze path beside it).
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from confluent_kafka import Producer  # noqa: E402
from confluent_kafka.admin import NewTopic  # noqa: E402

from assets.bronze.ranges import read_topic_id, read_watermarks  # noqa: E402
from assets.dashboards import spec  # noqa: E402
from assets.dashboards.provision import provision  # noqa: E402
from assets.flink.control import PipelineClients  # noqa: E402
from bench import windows_build  # noqa: E402
from bench.bronze_ingest import ROOT, core_figures, make_backlog, per_message_phase, record_cpu  # noqa: E402
from bench.flink_vs_bronze import CHECKPOINT_SECONDS, flink_phase  # noqa: E402
from infra.generator import GeneratorSpec, produce  # noqa: E402
from infra.stack.config import REPO_ROOT, StackConfig  # noqa: E402
from infra.stack.sandbox import sandbox  # noqa: E402
from resources.definitions import platform_resources  # noqa: E402
from tests.support.dagster_dev import DagsterDev, throwaway_database  # noqa: E402

CHART = "Orders by status, last hour"
PER_MESSAGE_EVENTS = 10_000  # the lab's per-message script is slow: a slice of the backlog says enough
_START_PHASES = (  # a run's events up to its first step (Dagster still names run events PIPELINE_*)
    "PIPELINE_ENQUEUED",
    "PIPELINE_DEQUEUED",
    "PIPELINE_STARTING",
    "ENGINE_EVENT",
    "PIPELINE_START",
    "STEP_START",
)
PREVIOUS = {
    "latency": "79 s (one event, quiet), 171–549 s under load",
    "bronze": "108,183 rec/s in-process; 10 runs of a backlog: minutes",
    "small": "7–12 s",
    "build": "98.5 s (one unbounded batch, before DuckDB's memory limit)",
    "incremental": "about 2 s",
    "flink": "about 10,000 rec/s",
}


def _resources() -> dict:
    return {name: r.process_config_and_initialize() for name, r in platform_resources().items()}


def _dagster(cfg: StackConfig, pg_url: str, home: str, env: dict[str, str] | None = None) -> DagsterDev:
    return DagsterDev(Path(home), pg_url, "orchestration.definitions", env=env).start()


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def latency(resources: dict, markers: int, spacing: float, timeout: float = 300) -> list[dict[str, float]]:
    """Per marker order produced to `orders`: when it was produced, when `app.orders` (behind the dashboard's
    dataset) had it and when Superset's chart data counted it (epoch seconds; markers never seen are left out)."""
    client = resources["superset"].client()
    dataset = client.find("dataset", {"table_name": "orders_recent", "schema": spec.SCHEMA})[0]["id"]
    chart = client.find("chart", {"slice_name": CHART, "datasource_id": dataset})[0]
    context = json.loads(client.request("GET", f"chart/{chart['id']}")["result"]["query_context"])
    producer = Producer({"bootstrap.servers": resources["kafka"].bootstrap_servers})
    sent: dict[str, float] = {}
    in_postgres: dict[str, float] = {}
    seen: dict[str, float] = {}
    next_send, deadline = time.monotonic(), time.monotonic() + timeout
    with resources["postgres"].connect(autocommit=True) as conn:
        while len(seen) < markers and time.monotonic() < deadline:
            if len(sent) < markers and time.monotonic() >= next_send:
                order_id = f"latency-{uuid.uuid4().hex[:12]}"
                event = {
                    "event_id": str(uuid.uuid4()),
                    "order_id": order_id,
                    "customer_id": "bench",
                    "status": "created",
                    "amount": 0.01,
                    "currency": "VND",
                    "created_at": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
                }
                producer.produce("orders", key=order_id.encode(), value=json.dumps(event).encode())
                producer.flush(10)
                sent[order_id], next_send = time.time(), time.monotonic() + spacing
            waiting = [o for o in sent if o not in in_postgres]
            for (order_id,) in conn.execute("SELECT order_id FROM app.orders WHERE order_id = ANY(%s)", [waiting]):
                in_postgres[order_id] = time.time()
            for order_id in [o for o in in_postgres if o not in seen]:
                query = dict(context["queries"][0])
                query["filters"] = [*query["filters"], {"col": "order_id", "op": "==", "val": order_id}]
                if client.request("POST", "chart/data", json={**context, "queries": [query]})["result"][0]["data"]:
                    seen[order_id] = time.time()
            time.sleep(0.25)
    return [{"sent": sent[o], "postgres": in_postgres[o], "chart": seen[o]} for o in seen]


def breakdown(dagster: DagsterDev, markers: list[dict[str, float]], job: str = "bronze_orders") -> list[tuple]:
    """Where an event's time went, median over the markers: produced → its run created (the sensor), → started
    (queue and worker start), → app.orders has it (the run's steps up to that model), → the chart counts it; and
    each step's median duration in the runs of that period."""
    first, last = min(m["sent"] for m in markers), max(m["chart"] for m in markers)
    runs = sorted(
        (r for r in dagster.runs(job) if r.created and first - 30 <= r.created <= last and r.started),
        key=lambda r: r.created,
    )
    created, started = [], []
    for m in markers:  # the first run created after the marker was produced carries it (its tick saw it)
        run = next((r for r in runs if r.created >= m["sent"]), None)
        if run is not None:
            created.append(run.created - m["sent"])
            started.append(run.started - run.created)
    steps: dict[str, list[float]] = {}
    phases: dict[str, list[float]] = {}  # the start of a run, event by event
    with dagster.instance() as instance:
        for run in runs:
            begun, previous = {}, ("created", run.created)
            for event in instance.all_logs(run.run_id):
                kind = event.dagster_event.event_type_value if event.dagster_event else None
                if kind in _START_PHASES and not begun:  # up to the first step
                    name = "worker process" if kind == "ENGINE_EVENT" else kind
                    if kind != "ENGINE_EVENT" or event.message.startswith("Started process"):
                        phases.setdefault(f"{previous[0]} → {name}", []).append(event.timestamp - previous[1])
                        previous = (name, event.timestamp)
                if kind == "STEP_START":
                    begun[event.step_key] = event.timestamp
                elif kind in ("STEP_SUCCESS", "STEP_FAILURE") and event.step_key in begun:
                    steps.setdefault(event.step_key, []).append(event.timestamp - begun[event.step_key])
    med = statistics.median
    rows = [
        ("produced → its bronze run created (sensor)", f"{med(created):.1f} s" if created else "-"),
        ("run created → started (queue, worker start)", f"{med(started):.1f} s" if started else "-"),
        ("produced → in app.orders", f"{med([m['postgres'] - m['sent'] for m in markers]):.1f} s"),
        ("in app.orders → counted by the chart", f"{med([m['chart'] - m['postgres'] for m in markers]):.1f} s"),
    ]
    rows += [(f"start: {name} (median of {len(d)})", f"{med(d):.2f} s") for name, d in phases.items()]
    rows += [(f"step {key} (median of {len(d)})", f"{med(d):.2f} s") for key, d in sorted(steps.items())]
    return rows


def latency_figures(cfg: StackConfig, resources: dict, markers: int) -> list[tuple]:
    """Event → dashboard, quiet and at 1,000 events/s, under dagster dev."""
    rows = []
    provision(resources["superset"].client(), resources["superset"].database_uri)  # the charts exist
    with throwaway_database(cfg, "bench_dagster") as pg_url:
        dagster = _dagster(cfg, pg_url, f"/tmp/bench-realtime-{uuid.uuid4().hex[:6]}")
        try:
            time.sleep(20)  # the sensors' first ticks catch up with what the topic already holds
            quiet = latency(resources, markers, spacing=3)
            rows.append(
                (
                    "event → dashboard, quiet: p50 / p95",
                    _p([m["chart"] - m["sent"] for m in quiet], markers),
                    "≤ 15 s (p95)",
                    PREVIOUS["latency"],
                )
            )
            _print_breakdown("a quiet event's", dagster, quiet)
            generator = subprocess.Popen(
                [
                    str(REPO_ROOT / ".venv" / "bin" / "lakehouse"),
                    "produce",
                    "--topic",
                    "orders",
                    "--rate",
                    "1000",
                    "--forever",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                time.sleep(20)
                loaded = latency(resources, markers, spacing=3)
            finally:
                generator.terminate()
                generator.wait(30)
            _print_breakdown("an event's at 1,000/s", dagster, loaded)
            rows.append(
                (
                    "event → dashboard, generator at 1,000/s: p50 / p95",
                    _p([m["chart"] - m["sent"] for m in loaded], markers),
                    "≤ 30 s (p95)",
                    PREVIOUS["latency"],
                )
            )
        finally:
            dagster.stop()
    return rows


def _print_breakdown(what: str, dagster: DagsterDev, markers: list[dict[str, float]]) -> None:
    if markers:
        print(f"| where {what} time went | median |\n|---|---|")
        for label, value in breakdown(dagster, markers):
            print(f"| {label} | {value} |")


def _p(values: list[float], wanted: int) -> str:
    if not values:
        return f"none of {wanted} seen"
    text = f"{statistics.median(values):.1f} s / {percentile(values, 0.95):.1f} s"
    return text if len(values) == wanted else f"{text} ({len(values)}/{wanted} seen)"


def throughput_figures(cfg: StackConfig, resources: dict, backlog: int) -> list[tuple]:
    """Bronze records/s under dagster dev from a backlog, beside kcat; a small run's duration."""
    kafka = resources["kafka"]
    topic = f"bench-realtime-{uuid.uuid4().hex[:8]}"
    admin = kafka.admin()
    admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])[topic].result(30)
    try:
        assert not produce(GeneratorSpec(topic=topic, count=backlog, rate=0, seed=5), kafka.bootstrap_servers).failed
        t0 = time.monotonic()
        subprocess.run(
            ["kcat", "-C", "-b", kafka.bootstrap_servers, "-t", topic, "-e", "-q", "-o", "beginning"],
            stdout=subprocess.DEVNULL,
            check=True,
        )
        kcat = backlog / (time.monotonic() - t0)
        cpu = record_cpu(core_figures(topic, [ROOT], 100_000)[0][1])  # before the script's 10k PUTs
        per_message = per_message_phase(topic, PER_MESSAGE_EVENTS)
        topic_id = read_topic_id(kafka, topic)
        high = {p: wm.high for p, wm in read_watermarks(kafka, topic).items()}
        env = {
            "BRONZE_TOPICS": f"{topic}:json:orders",
            "BRONZE_MAX_RECORDS": str(-(-backlog // 3)),
            "BRONZE_MAX_BYTES": str(512 * 1024 * 1024),
        }
        with throwaway_database(cfg, "bench_dagster") as pg_url:
            dagster = DagsterDev(
                Path(f"/tmp/bench-realtime-{uuid.uuid4().hex[:6]}"), pg_url, "orchestration.definitions", env=env
            )
            peak = 0
            try:
                dagster.start()
                while not _landed(resources, topic_id, high):
                    peak = max(peak, _worker_rss_mb(dagster))
                    time.sleep(0.5)
                done = time.time()
                runs = dagster.runs(job=f"bronze_{topic.replace('-', '_')}")
                first = min(r.created for r in runs)
                rate = backlog / (done - first)
                _print_timeline(dagster, runs, first, done)
            finally:
                dagster.stop()
        return [
            (
                f"bronze, {backlog:,}-event backlog through sensors + run launcher",
                f"{rate:,.0f} rec/s ({len(runs)} runs; kcat ratio {rate / kcat:.2f})",
                "≥ 250,000 rec/s",
                PREVIOUS["bronze"],
            ),
            ("kcat -C -e, same backlog", f"{kcat:,.0f} rec/s", "peer", ""),
            (
                f"bronze's ceiling on this machine: {os.cpu_count()} cores / `ingest_batch`'s own CPU per record "
                "(one plain process), as if Kafka, the object store and Dagster cost nothing",
                f"{cpu.ceiling:,.0f} rec/s ({cpu.own_us:.1f} us/rec; with the services' CPU meanwhile, "
                f"{cpu.services_text}: {cpu.ceiling_with_services:,.0f} rec/s)",
                "bound",
                "",
            ),
            (
                f"the lab's script (one object per message), first {PER_MESSAGE_EVENTS:,} of the backlog",
                f"{per_message:,.0f} rec/s",
                "peer",
                "",
            ),
            ("peak memory of a run worker", f"{peak:.0f} MB", "≤ 512 MB", "279 MB"),
        ]
    finally:
        admin.delete_topics([topic])


def _print_timeline(dagster: DagsterDev, runs: list, first: float, done: float) -> None:
    """Where the backlog's seconds went, run by run (stderr): seconds after the first run's creation."""
    with dagster.instance() as instance:
        for run in sorted(runs, key=lambda r: r.created):
            steps = instance.get_run_step_stats(run.run_id)
            bronze = next((s for s in steps if s.step_key.startswith("bronze")), None)
            ended = (bronze.end_time or float("nan")) if bronze else float("nan")  # nan: not over when looked at
            timing = f"bronze step {bronze.start_time - first:.1f}–{ended - first:.1f} s" if bronze else "no step"
            print(
                f"backlog run {run.run_id[:8]}: created {run.created - first:.1f} s, started "
                f"{(run.started or run.created) - first:.1f} s, {timing}; landed all at {done - first:.1f} s",
                file=sys.stderr,
            )


def _landed(resources: dict, topic_id: str, high: dict[int, int]) -> bool:
    with resources["postgres"].connect() as conn:
        rows = dict(
            conn.execute(
                "SELECT partition, landed_to FROM lakehouse_state.bronze_partitions WHERE topic_id = %s", [topic_id]
            ).fetchall()
        )
    return all(rows.get(p, -1) >= h for p, h in high.items())


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _is_run_worker(pid: int) -> bool:
    """A run worker: spawned by a code server, or forked by the launcher's fork server (a child of it)."""
    cmdline = _cmdline(pid)
    if b"spawn_main" in cmdline:
        return True
    try:
        ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return False
    return b"forkserver" in cmdline and b"forkserver" in _cmdline(ppid)


def _worker_rss_mb(dagster: DagsterDev) -> float:
    """The largest resident memory among the run workers of this dagster dev."""
    peak = 0.0
    for pid in filter(_is_run_worker, dagster.processes()):
        try:
            status = Path(f"/proc/{pid}/status").read_text().splitlines()
            rss = next(line for line in status if line.startswith("VmRSS"))
            peak = max(peak, int(rss.split()[1]) / 1024)
        except (OSError, StopIteration):
            continue
    return peak


def _small_runs(dagster: DagsterDev, kafka, topic: str, count: int) -> list[tuple[float, float]]:
    """`count` times five records, each landed by its own run: (created → success, created → started) seconds."""
    durations = []
    for i in range(count):
        before = {r.run_id for r in dagster.runs()}
        assert not produce(GeneratorSpec(topic=topic, count=5, rate=0, seed=9 + i), kafka.bootstrap_servers).failed
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            new = [r for r in dagster.runs() if r.run_id not in before and r.status in ("SUCCESS", "FAILURE")]
            if new:
                durations.append((new[0].ended - new[0].created, new[0].started - new[0].created))
                break
            time.sleep(0.5)
    return durations


def small_run_figures(cfg: StackConfig, resources: dict, count: int = 5) -> list[tuple]:
    """A bronze run for a handful of records, created → success, with warm run workers and with the code server's
    spawned ones, one after the other on the same topic (the fused models run too: the topic is an orders one)."""
    kafka = resources["kafka"]
    topic = f"bench-small-{uuid.uuid4().hex[:8]}"
    admin = kafka.admin()
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(30)
    rows = []
    try:
        for warm in (True, False):
            with throwaway_database(cfg, "bench_dagster") as pg_url:
                dagster = DagsterDev(
                    Path(f"/tmp/bench-realtime-{uuid.uuid4().hex[:6]}"),
                    pg_url,
                    "orchestration.definitions",
                    env={"BRONZE_TOPICS": f"{topic}:json:orders"},
                    instance_overrides={"run_launcher": {"config": {"warm_workers": warm}}},
                )
                try:
                    dagster.start()
                    runs = _small_runs(dagster, kafka, topic, count)
                finally:
                    dagster.stop()
            total, start = [r[0] for r in runs], [r[1] for r in runs]
            text = (
                (
                    f"{statistics.median(total):.1f} s median, {max(total):.1f} s max of {len(runs)} "
                    f"(start {statistics.median(start):.1f} s)"
                )
                if runs
                else "no run finished"
            )
            rows.append(
                (
                    f"bronze run, 5 records: created → success, {'warm' if warm else 'spawned'} run workers",
                    text,
                    "≤ 2 s" if warm else "peer",
                    PREVIOUS["small"],
                )
            )
    finally:
        admin.delete_topics([topic])
    return rows


def build_figures(cfg: StackConfig, resources: dict, events: int) -> list[tuple]:
    """The full model build from `events` in bronze and one 10k-event batch after it (bench/windows_build.py)."""
    with sandbox(cfg, resources["object_store"], resources["postgres"], prefix="bench") as (store, postgres):
        f = windows_build.measure(store, postgres, events, 10_000, 100)
    slowest = ", ".join(f"{k} {v:.1f} s" for k, v in sorted(f["full_models"].items(), key=lambda kv: -kv[1])[:3])
    return [
        (
            f"full model build, {events:,} events in bronze",
            f"{f['full']:.1f} s ({slowest}; peak {f['peak_mb']:.0f} MB)",
            "≤ 45 s",
            PREVIOUS["build"],
        ),
        (
            "the build's floors: DuckDB parsing every bronze line alone; Postgres inserting the build's "
            f"{f['orders']:,} orders alone (empty copy of app.orders)",
            f"{f['parse_floor']:.1f} s; {f['insert_floor']:.1f} s",
            "bound",
            "",
        ),
        ("one 10,000-event batch through every model", f"{f['incremental']:.2f} s", "≤ 1 s", PREVIOUS["incremental"]),
    ]


def flink_figures(cfg: StackConfig, resources: dict, events: int) -> list[tuple]:
    """The Flink SQL pipeline Kafka → object store on a backlog of `events` (bench/flink_vs_bronze.py, p=1)."""
    topic = f"bench-flink-{uuid.uuid4().hex[:8]}"
    make_backlog(topic, events)
    try:
        with sandbox(cfg, resources["object_store"], resources["postgres"], prefix="bench") as (store, postgres):
            clients = PipelineClients(resources["flink"], postgres, store, resources["kafka"].bootstrap_servers)
            f = flink_phase(topic, events, 1, clients)
    finally:
        resources["kafka"].admin().delete_topics([topic])
    return [
        (
            f"Flink SQL Kafka → object store, {events:,}-event backlog, parallelism 1",
            f"{events / f['wall_seconds']:,.0f} rec/s wall, {f['own_rate']:,.0f} by its source counter "
            f"(wall {f['wall_seconds']:.1f} s: submitted in {f['submit_seconds']:.1f} s, the last record committed "
            f"{f['commit_lag_seconds']:.1f} s after the last was read; checkpoints every {CHECKPOINT_SECONDS} s)",
            "≥ 80,000 rec/s",
            PREVIOUS["flink"],
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--markers", type=int, default=20)
    parser.add_argument("--backlog", type=int, default=1_000_000)
    parser.add_argument("--build-events", type=int, default=10_000_000)
    parser.add_argument("--skip", default="", help="comma-separated: latency, throughput, small, build, flink")
    args = parser.parse_args()
    cfg, resources = StackConfig.from_env(), _resources()
    rows: list[tuple] = []
    if "throughput" not in args.skip:
        rows += throughput_figures(cfg, resources, args.backlog)
    if "small" not in args.skip:
        rows += small_run_figures(cfg, resources)
    if "latency" not in args.skip:
        rows += latency_figures(cfg, resources, args.markers)
    if "build" not in args.skip:
        rows += build_figures(cfg, resources, args.build_events)
    if "flink" not in args.skip:
        rows += flink_figures(cfg, resources, args.backlog)
    print("| figure | now | target | before (issue 11) |\n|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
