"""The SQL models on the real object store and Postgres: silver deduplicated, app.orders the latest state,
re-runs and crash-then-retry leave the same end state."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from assets import lake_objects
from assets.models.runner import ModelRunner
from infra.stack.sandbox import sandbox
from resources.models import ModelSettings
from tests.support.lake import Lake
from tests.support.lake import order_event as _event

NOW = datetime.now(timezone.utc).replace(microsecond=0)


@pytest.fixture
def lake(resources):
    return Lake(resources["object_store"], resources["postgres"])


def test_silver_dedups_and_app_orders_keeps_the_latest_state(lake):
    a, b = f"o-{uuid.uuid4().hex[:8]}", f"o-{uuid.uuid4().hex[:8]}"
    created = _event(a, "created", NOW - timedelta(minutes=5))
    paid = _event(a, "paid", NOW - timedelta(minutes=1), amount=12.5)
    old = _event(b, "shipped", NOW - timedelta(days=2))
    lake.land([created, paid, paid, old])  # a duplicate inside the batch
    lake.run_all()
    ids = [created["event_id"], paid["event_id"], old["event_id"]]
    assert len(lake.silver(ids)) == 3
    assert lake.order(a) == (paid["event_id"], "paid", 12.5)
    assert lake.order(a, "app.orders_recent") == (paid["event_id"], "paid", 12.5)
    assert lake.order(b) is not None and lake.order(b, "app.orders_recent") is None  # older than a day

    stale = _event(a, "cancelled", NOW - timedelta(minutes=3))  # arrives later, happened earlier
    lake.land([paid, stale])  # the duplicate again, in a later batch
    lake.run_all()
    assert len(lake.silver(ids + [stale["event_id"]])) == 4, "a duplicate across batches reached silver"
    assert lake.order(a) == (paid["event_id"], "paid", 12.5), "an older event overwrote a newer state"


def test_the_models_share_one_duckdb_session_and_leave_it_as_they_found_it(lake):
    order = f"o-{uuid.uuid4().hex[:8]}"
    lake.land([_event(order, "created", NOW - timedelta(seconds=20)), _event(order, "paid", NOW)])
    session = lake.runner.duckdb.session(lake.store)
    lake.run_all()  # silver (s3), app.orders (Postgres upsert), the windows, the views
    assert lake.runner.duckdb.session(lake.store) is session, "a model opened a session of its own"
    assert session.execute("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall() == []
    assert lake.order(order)[1] == "paid"


def test_rerunning_changes_nothing(lake):
    order = f"o-{uuid.uuid4().hex[:8]}"
    events = [_event(order, "created", NOW - timedelta(seconds=30 - i)) for i in range(5)]
    lake.land(events)
    lake.run_all()
    before = (lake.silver([e["event_id"] for e in events]), lake.order(order))
    lake.run_all()
    for model in lake.models.values():
        assert lake.runner.run(model).rows == 0
    assert (lake.silver([e["event_id"] for e in events]), lake.order(order)) == before


def test_crash_after_writing_silver_then_retry_gives_the_same_end_state(lake, monkeypatch):
    order = f"o-{uuid.uuid4().hex[:8]}"
    events = [_event(order, s, NOW - timedelta(seconds=10 - i)) for i, s in enumerate(("created", "paid", "shipped"))]
    lake.land(events)
    real_record = ModelRunner.record

    def crash(self, cur, model, result):
        raise RuntimeError("crashed before recording the batch")

    monkeypatch.setattr(ModelRunner, "record", crash)
    with pytest.raises(RuntimeError, match="crashed"):
        lake.runner.run(lake.models["silver_orders"])  # silver files written, batch not recorded
    monkeypatch.setattr(ModelRunner, "record", real_record)
    lake.run_all()
    assert len(lake.silver([e["event_id"] for e in events])) == 3
    assert lake.order(order)[1] == "shipped"


def test_a_backlog_drains_in_batches_bounded_by_records(resources, cfg):
    """Compressed bytes do not bound DuckDB's memory (a 512 MB zstd batch is about 30 M events): records do.
    Objects of 3, 3, 7 and 2 events with at most 5 per batch: four batches, the 7 alone (never a stall); two
    batches per run leave a backlog the materialization shows, which the next run drains."""
    with sandbox(cfg, resources["object_store"], resources["postgres"], prefix="test") as (store, postgres):
        lake = Lake(store, postgres, ModelSettings(max_records_per_batch=5, max_batches_per_run=2))
        events = [_event(f"o-{i}", "created", NOW - timedelta(seconds=60 - i)) for i in range(15)]
        for lo, hi in ((0, 3), (3, 6), (6, 13), (13, 15)):
            lake.land(events[lo:hi])
        first = lake.runner.run(lake.models["silver_orders"])
        assert (first.batches, first.rows, first.backlog_objects, first.backlog_records) == (2, 6, 2, 9)
        second = lake.runner.run(lake.models["silver_orders"])
        assert (second.batches, second.rows, second.backlog_objects, second.backlog_records) == (2, 9, 0, 0)
        assert len(lake.silver([e["event_id"] for e in events])) == 15


def test_a_partitions_committed_files_are_found_whatever_the_databases_collation(resources, cfg):
    """Silver's dedup and the windows find a partition's files by key prefix, a range in byte order. Under a collation
    that ignores punctuation (glibc's en_US.utf8, the postgres image's default, does) hour 1's files sort after the
    prefix of hour 10 and would be missed: duplicates in silver. The column here gets such a collation (ICU's)."""
    with sandbox(cfg, resources["object_store"], resources["postgres"], prefix="test") as (_store, postgres):
        hour = "silver/orders/event_date=2026-01-01/event_hour="
        keys = [f"{hour}{h}/b{b}_0.parquet" for h in (1, 10, 11, 2) for b in ("0f", "a1")]
        with postgres.connect() as conn, conn.cursor() as cur:
            cur.execute("CREATE COLLATION lakehouse_state.shifted (provider = icu, locale = 'en-US-u-ka-shifted')")
            cur.execute(
                "ALTER TABLE lakehouse_state.lake_objects ALTER COLUMN key TYPE text COLLATE lakehouse_state.shifted"
            )
            lake_objects.register(cur, "silver/orders", [(k, 1, 1) for k in keys])
        with postgres.connect() as conn:
            found = lake_objects.keys_under(conn, "silver/orders", [f"{hour}1", f"{hour}2"])
        assert found == sorted(k for k in keys if f"{hour}1/" in k or f"{hour}2/" in k)
