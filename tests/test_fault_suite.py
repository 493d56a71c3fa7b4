"""The fault suite (issue 10): each fault is injected for real on the running stack, the platform recovers with
no manual step (the test only ticks the sensors and executes what they request, as the daemon does), and the
records are counted — produced, landed, quarantined, lost, duplicated. Every row must read lost 0, duplicated 0;
the table is printed at the end of the session and written to tests/artifacts/fault_table.md.

The orchestrator killed mid-run is covered by tests/test_operations.py; poison values by tests/test_poison.py."""

from __future__ import annotations

import os
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from confluent_kafka.admin import NewTopic
from dagster import AssetCheckEvaluation, AssetObservation, DagsterInstance, materialize

from assets.bronze.topics import TopicSpec
from assets.bronze.writer import topic_token
from assets.models.assets import model_assets
from infra.generator import GeneratorSpec, produce
from infra.stack import stack
from infra.stack.sandbox import sandbox
from resources import duckdb as lake_duckdb
from resources.duckdb import DuckDBResource
from resources.models import ModelSettings
from tests.support.bronze import BronzeHarness
from tests.support.faults import FaultRow, drive, kill9, record, restart
from tests.support.lake import Lake, order_event

OBJECT_STORE_DOWN_S = float(os.environ.get("FAULT_OBJECT_STORE_DOWN_S", "180"))


@pytest.fixture
def box(resources, cfg):
    """A bucket and database of the test's own on the running stack."""
    with sandbox(cfg, resources["object_store"], resources["postgres"], prefix="fault") as (store, postgres):
        yield store, postgres


def _harness(topic: str, box) -> BronzeHarness:
    store, postgres = box
    harness = BronzeHarness(TopicSpec(topic, "json", "orders"), DagsterInstance.ephemeral())
    harness.use(object_store=store, postgres=postgres)
    harness.settings(retry_backoff_seconds=5, retry_max_backoff_seconds=20, max_records=2000)
    return harness


def _produce(topic: str, resources, count: int, seed: int, **kw) -> set[tuple[int, int]]:
    report = produce(
        GeneratorSpec(topic=topic, count=count, rate=0, seed=seed, **kw),
        resources["kafka"].bootstrap_servers,
        keep_records=True,
    )
    assert not report.failed
    return {(p, o) for p, o, _, _ in report.records}


def _count(fault: str, harness: BronzeHarness, sent: set, seconds: float) -> FaultRow:
    landed, quarantined = harness.offsets("stream"), harness.offsets("quarantine")
    every = landed + quarantined
    row = record(
        FaultRow(
            fault,
            len(sent),
            len(set(landed)),
            len(set(quarantined)),
            lost=len(sent - set(every)),
            duplicated=len(every) - len(set(every)),
            recovery_s=seconds,
        )
    )
    assert (row.lost, row.duplicated) == (0, 0), row
    return row


def _all_in(harness: BronzeHarness, sent: set):
    return lambda: sent <= set(harness.offsets("stream")) | set(harness.offsets("quarantine"))


def _gap_reports(harness: BronzeHarness) -> list[bool]:
    return [e.passed for e in harness.events if isinstance(e, AssetCheckEvaluation)]


def test_object_store_down_longer_than_the_retries_while_records_arrive(fresh_topic, resources, cfg, box):
    harness = _harness(fresh_topic, box)
    sent = _produce(fresh_topic, resources, 1500, seed=101, bad_fraction=0.02)
    stack.stop_service(cfg, "s3")
    gap_seen = []
    try:
        started = time.monotonic()
        while time.monotonic() - started < OBJECT_STORE_DOWN_S:  # the platform keeps trying: runs fail
            if time.monotonic() - started > OBJECT_STORE_DOWN_S / 2 and len(sent) == 1500:
                sent |= _produce(fresh_topic, resources, 500, seed=102)  # records keep arriving
            for request in harness.tick():
                assert not harness.run(request, raise_on_error=False).success
            gap_seen += _gap_reports(harness)
            time.sleep(2)
    finally:
        restart(cfg, "s3")
    assert False in gap_seen, "the no_gaps check should have failed while ranges were missing"
    seconds = drive(harness, _all_in(harness, sent), timeout_s=240)
    harness.tick()
    assert _gap_reports(harness)[-1:] in ([True], []), "the no_gaps check should pass again"
    _count(f"object store down {OBJECT_STORE_DOWN_S:.0f} s", harness, sent, seconds)


def test_broker_killed_and_restarted(fresh_topic, resources, cfg, box):
    harness = _harness(fresh_topic, box)
    sent = _produce(fresh_topic, resources, 3000, seed=103)
    requests = harness.tick()
    kill9(cfg, "kafka")
    threading.Timer(10, restart, (cfg, "kafka")).start()  # back while the runs wait for it
    try:
        for request in requests:
            harness.run(request, raise_on_error=False)
    finally:
        deadline = time.monotonic() + 120
        while not stack.service(cfg, "kafka").healthy() and time.monotonic() < deadline:
            time.sleep(1)
    seconds = drive(harness, _all_in(harness, sent), timeout_s=300)
    sent |= _produce(fresh_topic, resources, 500, seed=104)
    seconds += drive(harness, _all_in(harness, sent), timeout_s=120)
    _count("broker kill -9, restart", harness, sent, seconds)


def test_topic_deleted_and_recreated(resources, box):
    topic = f"test-{uuid.uuid4().hex[:10]}"
    admin = resources["kafka"].admin()
    admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])[topic].result(30)
    try:
        harness = _harness(topic, box)
        old = _produce(topic, resources, 300, seed=105)
        drive(harness, _all_in(harness, old), timeout_s=120)
        old_tid = harness.topic_id
        before = set(harness.objects("stream"))
        admin.delete_topics([topic])[topic].result(30)
        _wait_gone(admin, topic)
        admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])[topic].result(30)
        _wait_for(lambda: len(admin.list_topics(timeout=10).topics.get(topic).partitions or {}) == 3)
        new = _produce(topic, resources, 200, seed=106)
        new_tid = harness.topic_id
        assert new_tid != old_tid
        observed = []

        def landed_new() -> bool:
            observed.extend(e for e in harness.events if isinstance(e, AssetObservation))
            return new <= _offsets_of(harness, new_tid)

        seconds = drive(harness, landed_new, timeout_s=120)
        assert any(e.metadata.get("topic_recreated") for e in observed), "the re-creation should be reported"
        assert before <= set(harness.objects("stream")), "the old topic's objects are left as they were"
        old_landed, new_landed = (
            _offsets_of(harness, old_tid, all_lines=True),
            _offsets_of(harness, new_tid, all_lines=True),
        )
        every = [("old", *x) for x in old_landed] + [("new", *x) for x in new_landed]
        produced = {("old", *x) for x in old} | {("new", *x) for x in new}
        record(
            FaultRow(
                "topic deleted and re-created",
                len(produced),
                len(set(every)),
                0,
                lost=len(produced - set(every)),
                duplicated=len(every) - len(set(every)),
                recovery_s=seconds,
            )
        )
        assert produced == set(every) and len(every) == len(set(every))
    finally:
        admin.delete_topics([topic])


def _wait_gone(admin, topic: str) -> None:
    _wait_for(lambda: topic not in admin.list_topics(timeout=10).topics)


def _wait_for(condition, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if condition():
                return
        except Exception:  # metadata not there yet
            pass
        if time.monotonic() > deadline:
            raise AssertionError("Kafka's metadata did not settle")
        time.sleep(0.5)


def _offsets_of(harness: BronzeHarness, topic_id: str, all_lines: bool = False):
    """(partition, offset) of the lines in the objects of one topic incarnation (a list with duplicates kept)."""
    found = [
        (line["_kafka"]["partition"], line["_kafka"]["offset"])
        for layer in ("stream", "quarantine")
        for key, lines in harness.objects(layer).items()
        if f"-{topic_token(topic_id)}-p" in key
        for line in lines
    ]
    return found if all_lines else set(found)


def _lake_with_events(box, count: int) -> tuple[Lake, list[dict]]:
    store, postgres = box
    lake = Lake(store, postgres, ModelSettings(max_objects_per_batch=3))
    now = time.time()
    events = [
        order_event(f"o-{i % 997}", "created", datetime.fromtimestamp(now, timezone.utc) - timedelta(seconds=count - i))
        for i in range(count)
    ]
    for chunk in range(0, count, count // 8):
        lake.land(events[chunk : chunk + count // 8])
    return lake, events


def _silver_counts(lake: Lake) -> tuple[int, int]:
    con = lake_duckdb.connect(lake.store)
    return con.execute(
        f"SELECT count(*), count(DISTINCT event_id) FROM read_parquet("
        f"'{lake.store.uri('silver/orders')}/**/*.parquet', hive_partitioning=false)"
    ).fetchone()


def test_postgres_restarted_during_a_models_run(box, cfg):
    lake, events = _lake_with_events(box, 40_000)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            lake.run_all()
        except BaseException as exc:  # the restart breaks the run: that is the fault
            errors.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    time.sleep(1.5)
    stack.stop_service(cfg, "postgres")
    restart(cfg, "postgres")
    worker.join(300)
    started = time.monotonic()
    while True:  # the next runs (the schedule's, or the next bronze run's) carry on
        try:
            lake.run_all()
            if not any(
                lake.runner._backlog(m, lake.runner.dataset(m))[0]
                for m in lake.models.values()
                if m.materialized != "view"
            ):
                break
        except Exception:
            time.sleep(2)
    seconds = time.monotonic() - started
    rows, distinct = _silver_counts(lake)
    with lake.postgres.connect() as conn:
        orders = conn.execute("SELECT count(*) FROM app.orders").fetchone()[0]
        windows = conn.execute("SELECT coalesce(sum(orders), 0) FROM app.orders_per_minute_processing").fetchone()[0]
    record(
        FaultRow(
            f"Postgres restarted during a models run ({'run broken' if errors else 'run survived'})",
            len(events),
            distinct,
            0,
            lost=len(events) - distinct,
            duplicated=rows - distinct,
            recovery_s=seconds,
        )
    )
    assert rows == distinct == len(events)
    assert orders == len({e["order_id"] for e in events})
    assert windows == len(events), "the processing-time windows counted an event twice or missed one"


def test_two_silver_materializations_at_once(box):
    store, postgres = box
    lake, events = _lake_with_events(box, 20_000)
    silver = next(a for a in model_assets() if a.key.path == ["silver", "orders"])
    resources = {
        "object_store": store,
        "postgres": postgres,
        "model_settings": ModelSettings(max_objects_per_batch=2),
        "duckdb": DuckDBResource(),
    }
    results: list = []
    threads = [
        threading.Thread(target=lambda: results.append(materialize([silver], resources=resources))) for _ in range(2)
    ]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    seconds = time.monotonic() - started
    assert len(results) == 2 and all(r.success for r in results)
    materialized = [r for r in results if r.get_asset_materialization_events()]
    rows, distinct = _silver_counts(lake)
    record(
        FaultRow(
            f"two silver materializations at once ({len(materialized)} ran, "
            f"{2 - len(materialized)} left it to the other)",
            len(events),
            distinct,
            0,
            lost=len(events) - distinct,
            duplicated=rows - distinct,
            recovery_s=seconds,
        )
    )
    assert rows == distinct == len(events)
