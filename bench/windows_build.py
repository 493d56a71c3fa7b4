"""Benchmark: build silver and the event-time windows from 10,000,000 order events in bronze, then one
incremental batch of 10,000 events end to end into Postgres.

    .venv/bin/python bench/windows_build.py [--events 10000000] [--batch 10000]

Runs in its own bucket and database (dropped afterwards) on the stack (`lakehouse up`). Bronze is
written by DuckDB in the exact shape the bronze asset writes. Beside the build it prints two floors that no
model code can go under: DuckDB merely parsing bronze's JSON lines (what silver must read), and Postgres merely
inserting the build's app.orders rows into an empty copy of the table (the least the upsert must write).
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assets import lake_objects  # noqa: E402
from assets.bronze.ledger import dataset  # noqa: E402
from assets.models.project import build_order, load_models  # noqa: E402
from assets.models.runner import ModelRunner  # noqa: E402
from infra.stack.config import StackConfig  # noqa: E402
from infra.stack.sandbox import sandbox  # noqa: E402
from resources import duckdb as lake_duckdb  # noqa: E402
from resources.definitions import platform_resources  # noqa: E402
from resources.object_store import ObjectStoreResource  # noqa: E402
from resources.postgres import PostgresResource  # noqa: E402

STATUSES = "['created', 'paid', 'shipped', 'cancelled']"


def write_bronze(
    store: ObjectStoreResource, postgres: PostgresResource, first: int, count: int, files: int, start_epoch: int
) -> None:
    """`count` events (10 per second of event time, a little disorder) as `files` bronze objects, registered
    for the models as the bronze asset registers its objects."""
    con = lake_duckdb.connect(store)
    written = []
    per_file = count // files
    for f in range(files):
        lo = first + f * per_file
        hi = first + count if f == files - 1 else lo + per_file
        key = f"bronze/stream/orders/dt=2026-01-01/orders-p0-{lo}-{hi - 1}.jsonl.zst"
        con.execute(f"""
            COPY (
              SELECT 'e-' || i AS event_id, 'o-' || (i // 3) AS order_id, 'c-' || (i % 5000) AS customer_id,
                     {STATUSES}[1 + (i % 4)::INTEGER] AS status, round(5 + (i * 7919 % 49500) / 100.0, 2) AS amount,
                     'VND' AS currency,
                     strftime(to_timestamp({start_epoch} + i / 10 - (i * 31 % 8)), '%Y-%m-%dT%H:%M:%S.000Z')
                       AS created_at,
                     strftime(to_timestamp({start_epoch} + i / 10 + 2), '%Y-%m-%dT%H:%M:%S.000Z') AS processed_at,
                     {{'topic': 'orders', 'partition': 0, 'offset': i,
                       'timestamp': strftime(to_timestamp({start_epoch} + i / 10), '%Y-%m-%dT%H:%M:%S.000Z'),
                       'key': 'o-' || (i // 3)}} AS _kafka
              FROM range({lo}, {hi}) t(i)
            ) TO '{store.uri(key)}' (FORMAT json, COMPRESSION zstd)""")
        size = store.client().head_object(Bucket=store.bucket, Key=key)["ContentLength"]
        written.append((key, hi - lo, size))
    con.close()
    with postgres.connect() as conn, conn.cursor() as cur:
        lake_objects.register(cur, dataset("bronze", "orders"), written)


def run_models(runner: ModelRunner, models: dict) -> dict[str, float]:
    """Run every model once; seconds per model."""
    timings = {}
    for name in build_order(models):
        t0 = time.monotonic()
        runner.run(models[name])
        timings[name] = time.monotonic() - t0
    return timings


def measure(store: ObjectStoreResource, postgres: PostgresResource, events: int, batch: int, files: int) -> dict:
    """Write `events` to bronze, build every model from scratch, then land and run one batch of `batch` events:
    seconds of each (total and per model), the result's size and this process's peak memory."""
    models = load_models()
    runner = ModelRunner(models, store, postgres)
    start_epoch = int(time.time()) - events // 10 - 3600
    t0 = time.monotonic()
    write_bronze(store, postgres, 0, events, files, start_epoch)
    figures: dict = {"bronze_seconds": time.monotonic() - t0}
    t0 = time.monotonic()
    figures["full_models"] = run_models(runner, models)
    figures["full"] = time.monotonic() - t0
    write_bronze(store, postgres, events, batch, 1, start_epoch)
    fresh = ModelRunner(models, store, postgres, duckdb=lake_duckdb.DuckDBResource())
    t0 = time.monotonic()  # as a run does: a DuckDB session of its own, opened inside the measured time
    figures["incremental_models"] = run_models(fresh, models)
    figures["incremental"] = time.monotonic() - t0
    with postgres.connect() as conn:
        figures["windows"], figures["orders"] = conn.execute(
            "SELECT (SELECT count(*) FROM app.orders_per_minute), (SELECT count(*) FROM app.orders)"
        ).fetchone()
    figures["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures["parse_floor"] = parse_floor(runner, store, postgres)
    figures["insert_floor"] = insert_floor(postgres)
    return figures


def parse_floor(runner: ModelRunner, store: ObjectStoreResource, postgres: PostgresResource) -> float:
    """Seconds DuckDB takes merely to parse every column of every bronze line (the source's columns), in a fresh
    session: silver cannot read its input faster."""
    with postgres.connect() as conn:
        keys = lake_objects.keys_under(conn, dataset("bronze", "orders"), ["bronze/stream/orders"])
    con = lake_duckdb.connect(store)
    try:
        t0 = time.monotonic()
        # every column of every line parsed: count(*) alone would skip the values
        con.execute(
            f"SELECT max(hash(COLUMNS(*))) FROM {runner.source_reader('bronze', 'orders', runner.uris(keys))}"
        ).fetchall()
        return time.monotonic() - t0
    finally:
        con.close()


def insert_floor(postgres: PostgresResource) -> float:
    """Seconds Postgres takes merely to insert app.orders' rows into an empty copy of the table (same indexes,
    no conflict, no client in between): the least the models' upsert of those rows must write."""
    with postgres.connect() as conn:
        conn.execute("CREATE TABLE lakehouse_state.insert_floor (LIKE app.orders INCLUDING ALL)")
        try:
            t0 = time.monotonic()
            conn.execute("INSERT INTO lakehouse_state.insert_floor SELECT * FROM app.orders")
            conn.commit()
            return time.monotonic() - t0
        finally:
            conn.execute("DROP TABLE lakehouse_state.insert_floor")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--files", type=int, default=100, help="bronze objects holding the backlog")
    args = parser.parse_args()

    base = platform_resources()
    with sandbox(StackConfig.from_env(), base["object_store"], base["postgres"], prefix="bench") as (store, postgres):
        f = measure(store, postgres, args.events, args.batch, args.files)
    print(f"bronze: {args.events:,} events in {args.files} objects written in {f['bronze_seconds']:.1f}s")
    print(
        f"full build from scratch: {f['full']:.1f}s  ("
        + ", ".join(f"{k} {v:.1f}s" for k, v in f["full_models"].items())
        + ")"
    )
    print(
        f"one incremental batch of {args.batch:,} events end to end: {f['incremental']:.2f}s  ("
        + ", ".join(f"{k} {v:.2f}s" for k, v in f["incremental_models"].items())
        + ")"
    )
    print(f"result: {f['windows']:,} 1-minute windows, {f['orders']:,} orders; peak memory {f['peak_mb']:.0f} MB")
    print(
        f"floors: DuckDB parsing bronze's JSON lines alone {f['parse_floor']:.1f}s; Postgres inserting the "
        f"{f['orders']:,} orders alone (empty copy of app.orders, same indexes) {f['insert_floor']:.1f}s; "
        f"together {f['parse_floor'] + f['insert_floor']:.1f}s before any window"
    )


if __name__ == "__main__":
    main()
