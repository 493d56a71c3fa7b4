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
import logging
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from confluent_kafka.admin import NewTopic  # noqa: E402
from dagster import AssetKey, AssetMaterialization, DagsterInstance, DagsterRunStatus, materialize  # noqa: E402
from dagster._core.events import DagsterEvent, DagsterEventType, StepMaterializationData  # noqa: E402
from dagster._core.events.log import EventLogEntry  # noqa: E402
from dagster._core.storage.dagster_run import DagsterRun  # noqa: E402
from dagster._serdes import serialize_value  # noqa: E402

from assets.bronze.topics import TopicSpec  # noqa: E402
from assets.models.assets import model_assets  # noqa: E402
from infra.generator import GeneratorSpec, produce  # noqa: E402
from infra.stack import stack  # noqa: E402
from infra.stack.config import StackConfig  # noqa: E402
from infra.stack.sandbox import sandbox  # noqa: E402
from resources.definitions import platform_resources  # noqa: E402
from tests.support.bronze import BronzeHarness  # noqa: E402


def instance_on_postgres(cfg: StackConfig, pg_url: str) -> tuple[DagsterInstance, str]:
    """A Dagster instance whose storage is a new database on the stack's Postgres (as infra/dagster does)."""
    name = f"bench_history_{uuid.uuid4().hex[:8]}"
    pg = stack.service(cfg, "postgres")
    with pg.superuser() as conn:
        conn.execute(f'CREATE DATABASE {name} OWNER "{pg.login()["user"]}"')
    home = Path(tempfile.mkdtemp(prefix="bench-history-"))
    (home / "dagster.yaml").write_text(
        f"storage:\n  postgres:\n    postgres_url: {pg_url.rsplit('/', 1)[0]}/{name}\ntelemetry:\n  enabled: false\n"
    )
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
    report = produce(
        GeneratorSpec(topic=harness.spec.topic, count=batch, rate=0, seed=seed), resources["kafka"].bootstrap_servers
    )
    assert not report.failed
    t0 = time.perf_counter()
    requests = harness.tick()
    tick = time.perf_counter() - t0
    for request in requests:
        harness.run(request)
    store, postgres = box
    with postgres.connect() as conn:  # the bench topic stands in for `orders`, the models' source
        conn.execute(
            "UPDATE lakehouse_state.lake_objects SET dataset = 'bronze/orders' WHERE dataset = %s",
            [f"bronze/{harness.spec.topic}"],
        )
    t0 = time.perf_counter()
    result = materialize(
        model_assets(),
        instance=harness.instance,
        resources={
            "object_store": store,
            "postgres": postgres,
            "model_settings": resources["model_settings"],
            "duckdb": resources["duckdb"],
        },
    )
    assert result.success
    return tick, time.perf_counter() - t0


def _bulk_runs(instance: DagsterInstance, runs: list[DagsterRun], created: list[datetime]) -> None:
    """Insert finished runs (and their tags) as Dagster's run storage does, a thousand rows per statement."""
    from dagster._core.storage.runs.schema import RunsTable, RunTagsTable

    storage = instance.run_storage
    backfill_column = storage.has_backfill_id_column()  # asked once: Dagster inspects the table on every call

    def values(run: DagsterRun, at: datetime) -> dict:
        return {
            "run_id": run.run_id,
            "pipeline_name": run.job_name,
            "status": run.status.value,
            "run_body": serialize_value(run),
            "snapshot_id": None,
            "partition": None,
            "partition_set": None,
            "create_timestamp": at,
            "update_timestamp": at,
            **({"backfill_id": None} if backfill_column else {}),
        }

    for start in range(0, len(runs), 1000):
        chunk = list(zip(runs[start : start + 1000], created[start : start + 1000], strict=True))
        with storage.connect() as conn:
            conn.execute(RunsTable.insert(), [values(run, at) for run, at in chunk])
            conn.execute(
                RunTagsTable.insert(),
                [
                    {"run_id": run.run_id, "key": k, "value": v}
                    for run, _ in chunk
                    for k, v in run.tags_for_storage().items()
                ],
            )


def _bulk_materializations(instance: DagsterInstance, events: list[tuple[DagsterRun, AssetKey, dict, float]]) -> None:
    """Store each run's materializations through the event log's batch write (the path Dagster itself batches)."""
    entries = [
        EventLogEntry(
            error_info=None,
            level=logging.INFO,
            user_message="",
            run_id=run.run_id,
            timestamp=at,
            step_key=key.to_python_identifier(),
            job_name=run.job_name,
            dagster_event=DagsterEvent(
                DagsterEventType.ASSET_MATERIALIZATION.value,
                run.job_name,
                event_specific_data=StepMaterializationData(AssetMaterialization(key, metadata=metadata)),
            ),
        )
        for run, key, metadata, at in events
    ]
    for start in range(0, len(entries), 500):
        by_key: dict[AssetKey, list[EventLogEntry]] = {}
        for entry in entries[start : start + 500]:
            by_key.setdefault(entry.dagster_event.asset_key, []).append(entry)
        for batch in by_key.values():  # the asset's latest event is the batch's last one
            instance.event_log_storage.store_event_batch(batch)


def make_history(harness: BronzeHarness, box, bronze_runs: int, models_runs: int) -> float:
    """Finished runs with their materializations, spread over the day before, and registered objects the models
    already read: what a day of the dev generator's micro-batches leaves behind."""
    t0 = time.perf_counter()
    instance, topic_id = harness.instance, harness.topic_id
    op = harness.asset.op.name
    now = datetime.now(timezone.utc)
    total = bronze_runs + models_runs
    created = [now - timedelta(days=1) + timedelta(days=1) * i / total for i in range(total)]
    bronze = [
        DagsterRun(
            job_name=harness.job.name,
            run_id=str(uuid.uuid4()),
            status=DagsterRunStatus.SUCCESS,
            run_config={"ops": {op: {"config": {"topic_id": topic_id, "ranges": {"0": [i * 10, i * 10 + 10]}}}}},
            tags={"kafka/topic": harness.spec.topic, "kafka/topic_id": topic_id},
        )
        for i in range(bronze_runs)
    ]
    models = [
        DagsterRun(job_name="lake_models", run_id=str(uuid.uuid4()), status=DagsterRunStatus.SUCCESS)
        for _ in range(models_runs)
    ]
    _bulk_runs(instance, bronze + models, created)
    events = [
        (run, harness.asset.key, {"records_landed": 10, "records_quarantined": 0, "bytes_read": 2500}, at.timestamp())
        for run, at in zip(bronze, created, strict=False)
    ]
    events += [
        (run, asset.key, {"rows_written": 10}, at.timestamp())  # each models run materializes every model
        for run, at in zip(models, created[bronze_runs:], strict=True)
        for asset in model_assets()
    ]
    _bulk_materializations(instance, events)
    _, postgres = box
    with postgres.connect() as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO lakehouse_state.lake_objects (dataset, key, records, bytes) SELECT 'bronze/orders', "
            "'bronze/stream/old/' || g || '.jsonl.zst', 10, 2500 FROM generate_series(1, %s) g",
            [bronze_runs],
        )
        cur.execute(
            "UPDATE lakehouse_state.model_inputs SET last_id = (SELECT max(id) FROM "
            "lakehouse_state.lake_objects WHERE dataset = 'bronze/orders') WHERE dataset = 'bronze/orders'"
        )
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
    print(
        f"history generated: {args.bronze_runs:,} bronze runs + {args.models_runs:,} models runs with their "
        f"materializations, {args.bronze_runs:,} registered objects ({made:.0f} s)"
    )
    print("| measure | empty history | with history | ratio |\n|---|---|---|---|")
    for label, a, b in zip(
        (
            "sensor tick, nothing new (median of 5)",
            "sensor tick planning a new batch",
            f"incremental models run, {args.batch:,} events (materialize)",
        ),
        empty,
        grown,
        strict=False,
    ):
        print(f"| {label} | {a:.3f} s | {b:.3f} s | {b / a:.2f} |")


if __name__ == "__main__":
    main()
