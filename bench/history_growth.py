"""Benchmark: does a bronze sensor tick, or an incremental models run, get slower as history grows?

    .venv/bin/python bench/history_growth.py [--bronze-runs 20000] [--models-runs 2000] [--batch 10000]

On the running stack (`lakehouse up`), in a Dagster instance of its own (a throw-away Postgres database) and a
sandbox bucket and database: measures a sensor tick (nothing new, then with new records) and an incremental
models run of `--batch` events (landed through the real bronze job, then the models materialized through
Dagster) with an empty history; then generates the history of `--bronze-runs` bronze runs and `--models-runs`
models runs — finished runs with their materializations in Dagster's storage, and as many objects in the
lake's registry, already read by the models — and measures the same again, side by side. Prints figures;
asserts nothing. The path measured is the sensor's own evaluation and `materialize()` in this process (no
daemon), so the figures show what history costs, not launch overheads.
"""
from __future__ import annotations

import argparse
import statistics
from concurrent.futures import ThreadPoolExecutor
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from confluent_kafka.admin import NewTopic  # noqa: E402
from dagster import AssetMaterialization, DagsterInstance, DagsterRunStatus, materialize  # noqa: E402
from dagster._core.storage.dagster_run import DagsterRun  # noqa: E402

from assets.bronze.topics import TopicSpec  # noqa: E402
from assets.models.assets import model_assets  # noqa: E402
from infra.generator import GeneratorSpec, produce  # noqa: E402
from infra.stack import stack  # noqa: E402
from infra.stack.config import StackConfig  # noqa: E402
from infra.stack.sandbox import sandbox  # noqa: E402
from resources.definitions import platform_resources  # noqa: E402
from tests.bronze_harness import BronzeHarness  # noqa: E402


def instance_on_postgres(cfg: StackConfig, pg_url: str) -> tuple[DagsterInstance, str]:
    """A Dagster instance whose storage is a new database on the stack's Postgres (as infra/dagster does)."""
    name = f"bench_history_{uuid.uuid4().hex[:8]}"
    pg = stack.service(cfg, "postgres")
    with pg.superuser() as conn:
        conn.execute(f'CREATE DATABASE {name} OWNER "{pg.login()["user"]}"')
    home = Path(tempfile.mkdtemp(prefix="bench-history-"))
    (home / "dagster.yaml").write_text(f"storage:\n  postgres:\n    postgres_url: {pg_url.rsplit('/', 1)[0]}/{name}\n"
                                       "telemetry:\n  enabled: false\n")
    return DagsterInstance.from_config(str(home)), name


def time_ticks(harness: BronzeHarness, n: int = 5) -> float:
    """Median seconds of a tick that finds nothing new."""
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        assert harness.tick() == []
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def land_and_model(harness: BronzeHarness, box, resources: dict, batch: int, seed: int) -> tuple[float, float]:
    """Produce `batch` orders, land them (one tick, its runs), then materialize the models: (tick s, models s)."""
    report = produce(GeneratorSpec(topic=harness.spec.topic, count=batch, rate=0, seed=seed),
                     resources["kafka"].bootstrap_servers)
    assert not report.failed
    t0 = time.perf_counter()
    requests = harness.tick()
    tick = time.perf_counter() - t0
    for request in requests:
        harness.run(request)
    store, postgres = box
    with postgres.connect() as conn:  # the bench topic stands in for `orders`, the models' source
        conn.execute("UPDATE lakehouse_state.lake_objects SET dataset = 'bronze/orders' WHERE dataset = %s",
                     [f"bronze/{harness.spec.topic}"])
    t0 = time.perf_counter()
    result = materialize(model_assets(), instance=harness.instance, resources={
        "object_store": store, "postgres": postgres, "model_settings": resources["model_settings"]})
    assert result.success
    return tick, time.perf_counter() - t0


def make_history(harness: BronzeHarness, box, bronze_runs: int, models_runs: int) -> float:
    """Finished runs with their materializations, and registered objects the models already read."""
    t0 = time.perf_counter()
    instance, topic_id = harness.instance, harness.topic_id
    op = harness.asset.op.name

    def bronze_run(i: int) -> None:
        run = instance.add_run(DagsterRun(
            job_name=harness.job.name, run_id=str(uuid.uuid4()), status=DagsterRunStatus.SUCCESS,
            run_config={"ops": {op: {"config": {"topic_id": topic_id, "ranges": {"0": [i * 10, i * 10 + 10]}}}}},
            tags={"kafka/topic": harness.spec.topic, "kafka/topic_id": topic_id}))
        instance.report_runless_asset_event(AssetMaterialization(harness.asset.key, metadata={
            "records_landed": 10, "records_quarantined": 0, "bytes_read": 2500, "run": run.run_id}))

    def models_run(_: int) -> None:
        instance.add_run(DagsterRun(job_name="lake_models", run_id=str(uuid.uuid4()), status=DagsterRunStatus.SUCCESS))
        for asset in model_assets_defs:  # each models run materializes every model
            instance.report_runless_asset_event(AssetMaterialization(asset.key, metadata={"rows_written": 10}))

    model_assets_defs = model_assets()
    with ThreadPoolExecutor(4) as pool:  # round trips to Postgres, not CPU: a few at a time
        list(pool.map(bronze_run, range(bronze_runs)))
        list(pool.map(models_run, range(models_runs)))
    _, postgres = box
    with postgres.connect() as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO lakehouse_state.lake_objects (dataset, key, records, bytes) SELECT 'bronze/orders', "
                    "'bronze/stream/old/' || g || '.jsonl.zst', 10, 2500 FROM generate_series(1, %s) g", [bronze_runs])
        cur.execute("UPDATE lakehouse_state.model_inputs SET last_id = (SELECT max(id) FROM "
                    "lakehouse_state.lake_objects WHERE dataset = 'bronze/orders') WHERE dataset = 'bronze/orders'")
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bronze-runs", type=int, default=20_000)
    parser.add_argument("--models-runs", type=int, default=2_000)
    parser.add_argument("--batch", type=int, default=10_000)
    args = parser.parse_args()
    cfg = StackConfig.from_env()
    base = {k: r.process_config_and_initialize() for k, r in platform_resources().items()}
    instance, database = instance_on_postgres(cfg, base["postgres"].url)
    topic = f"bench-history-{uuid.uuid4().hex[:8]}"
    admin = base["kafka"].admin()
    admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])[topic].result(30)
    try:
        with sandbox(cfg, base["object_store"], base["postgres"], prefix="bench") as box:
            harness = BronzeHarness(TopicSpec(topic, "json", "orders"), instance)
            harness.use(object_store=box[0], postgres=box[1])
            land_and_model(harness, box, base, args.batch, seed=1)  # warm-up: first batch, first windows
            empty = (time_ticks(harness), *land_and_model(harness, box, base, args.batch, seed=2))
            made = make_history(harness, box, args.bronze_runs, args.models_runs)
            grown = (time_ticks(harness), *land_and_model(harness, box, base, args.batch, seed=3))
    finally:
        admin.delete_topics([topic])
        instance.dispose()
        with stack.service(cfg, "postgres").superuser() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    print(f"history generated: {args.bronze_runs:,} bronze runs + {args.models_runs:,} models runs with their "
          f"materializations, {args.bronze_runs:,} registered objects ({made:.0f} s)")
    print("| measure | empty history | with history | ratio |\n|---|---|---|---|")
    for label, a, b in zip(("sensor tick, nothing new (median of 5)", "sensor tick planning a new batch",
                            f"incremental models run, {args.batch:,} events (materialize)"), empty, grown):
        print(f"| {label} | {a:.3f} s | {b:.3f} s | {b / a:.2f} |")


if __name__ == "__main__":
    main()
