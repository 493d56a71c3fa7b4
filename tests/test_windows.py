"""Event-time windows, watermark and late data, against a reference implementation in plain Python.

Each test gets its own bucket and database, so its event times cannot disturb (or be disturbed by)
the shared stack's watermark."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import psycopg
import pytest

from assets.bronze.ingest import PREFIXES
from assets.bronze.writer import ObjectWriter
from infra.stack.sandbox import sandbox
from resources import duckdb as lake_duckdb
from resources.models import ModelSettings
from tests.support.lake import Lake
from tests.support.lake import order_event as _event

WIDTH, OOO, LATENESS, FUTURE = 60, 10, 60, 300  # the documented defaults


@pytest.fixture
def isolated(resources, cfg):
    settings = ModelSettings(
        max_out_of_orderness_seconds=OOO, allowed_lateness_seconds=LATENESS, max_future_seconds=FUTURE
    )
    with sandbox(cfg, resources["object_store"], resources["postgres"], prefix="test") as (store, postgres):
        yield Lake(store, postgres, settings)


def _time(event: dict) -> datetime:
    return datetime.fromisoformat(event["created_at"].replace("Z", "+00:00"))


class Reference:
    """The documented semantics, written independently of the SQL: batch by batch."""

    def __init__(self, now: datetime):
        self.horizon = now + timedelta(seconds=FUTURE)
        self.seen: set[str] = set()
        self.max_event: datetime | None = None
        self.watermark: datetime | None = None
        self.windows: dict[datetime, list[dict]] = defaultdict(list)
        self.late: dict[str, datetime] = {}  # event id -> the watermark it missed

    def batch(self, events: list[dict]) -> None:
        start_watermark = self.watermark
        fresh = []
        for e in events:
            if e["event_id"] not in self.seen:
                self.seen.add(e["event_id"])
                fresh.append(e)
        for e in fresh:
            t = _time(e)
            window = datetime.fromtimestamp(int(t.timestamp()) // WIDTH * WIDTH, timezone.utc)
            if start_watermark and window + timedelta(seconds=WIDTH) <= start_watermark - timedelta(seconds=LATENESS):
                self.late[e["event_id"]] = start_watermark
            else:
                self.windows[window].append(e)
        if fresh:
            newest = min(max(_time(e) for e in fresh), self.horizon)
            self.max_event = newest if self.max_event is None else max(self.max_event, newest)
            candidate = self.max_event - timedelta(seconds=OOO)
            self.watermark = candidate if self.watermark is None else max(self.watermark, candidate)

    def final_windows(self) -> dict:
        out = {}
        for window, events in self.windows.items():
            if window + timedelta(seconds=WIDTH) <= self.watermark:
                by = defaultdict(int)
                for e in events:
                    by[e["status"]] += 1
                out[window] = (
                    len({e["event_id"] for e in events}),
                    sum(Decimal(str(e["amount"])) for e in events),
                    by["created"],
                    by["paid"],
                    by["shipped"],
                    by["cancelled"],
                )
        return out


def _stream(rng: random.Random, start: datetime, count: int) -> list[list[dict]]:
    """Batches of events: ordered, disordered within and beyond the bound, duplicated."""
    events, sent = [], []
    for i in range(count):
        t = start + timedelta(seconds=i * 0.7)
        roll = rng.random()
        if roll < 0.6:
            t -= timedelta(seconds=rng.uniform(0, OOO * 0.9))  # within the bound
        elif roll < 0.75:
            t -= timedelta(seconds=rng.uniform(OOO, 300))  # beyond it: late or within allowed lateness
        event = _event(
            f"o-{rng.randrange(200)}",
            rng.choice(("created", "paid", "shipped", "cancelled")),
            t,
            amount=round(rng.uniform(1, 300), 2),
            event_id=f"e-{rng.getrandbits(64):x}",
        )
        events.append(event)
        if sent and rng.random() < 0.05:
            events.append(rng.choice(sent))  # a duplicate delivery
        sent.append(event)
    batches, i = [], 0
    while i < len(events):
        size = rng.randint(10, 80)
        batches.append(events[i : i + size])
        i += size
    return batches


def _pg_windows(lake: Lake) -> tuple[dict, set]:
    with psycopg.connect(lake.postgres.url) as conn:
        rows = conn.execute(
            "SELECT window_start, orders, revenue, created, paid, shipped, cancelled, is_final "
            "FROM app.orders_per_minute"
        ).fetchall()
    return {r[0]: tuple(r[1:7]) for r in rows if r[7]}, {r[0] for r in rows}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_final_windows_and_late_events_match_the_reference(isolated, seed):
    lake, rng = isolated, random.Random(seed)
    now = datetime.now(timezone.utc)
    reference = Reference(now)
    batches = _stream(rng, now - timedelta(hours=2), 600)
    batches.append([_event("o-end", "created", _time(batches[-1][-1]) + timedelta(minutes=10))])  # pass the watermark
    for batch in batches:
        lake.land(batch)
        lake.run_all()
        reference.batch(batch)

    final, all_windows = _pg_windows(lake)
    expected = reference.final_windows()
    assert final == expected
    with psycopg.connect(lake.postgres.url) as conn:
        late = dict(conn.execute("SELECT event_id, watermark FROM app.late_events").fetchall())
        watermark = conn.execute("SELECT watermark FROM lakehouse_state.watermarks").fetchone()[0]
    assert late == reference.late
    assert reference.late, "the stream should contain late events"
    assert watermark == reference.watermark

    with psycopg.connect(lake.postgres.url) as conn:
        processing_total = conn.execute("SELECT sum(orders) FROM app.orders_per_minute_processing").fetchone()[0]
        sliding = conn.execute("SELECT window_start, orders FROM app.orders_sliding_5m WHERE is_final").fetchall()
    assert processing_total == len(reference.seen), "by processing time every distinct event counts once"
    assert sliding
    for start, orders in sliding:
        minutes = [start + timedelta(minutes=k) for k in range(5)]
        assert orders == sum(expected[m][0] for m in minutes if m in expected)

    lake.run_all()  # re-running changes nothing
    assert _pg_windows(lake) == (final, all_windows)


def test_an_event_from_the_far_future_is_reported_and_the_watermark_stays_near_real_time(isolated):
    now = datetime.now(timezone.utc)
    isolated.land(
        [_event("o-1", "created", now - timedelta(seconds=5)), _event("o-2", "created", now + timedelta(days=1))]
    )
    runs = isolated.run_all()
    assert runs["app_orders_per_minute"].future_events == 1
    assert runs["app_orders_per_minute"].watermark <= datetime.now(timezone.utc) + timedelta(seconds=FUTURE - OOO)


def test_malformed_events_never_reach_silver(isolated):
    good = _event("o-1", "created", datetime.now(timezone.utc))
    isolated.land([good])
    writer = ObjectWriter("orders", PREFIXES)  # what bronze quarantined lives beside, not inside, bronze/stream
    writer.add("quarantine", 0, "2026-01-01", 99, b'{"reason":"malformed JSON","raw_base64":"e30="}\n')
    writer.upload(isolated.store.client(), isolated.store.bucket)
    isolated.run_all()
    assert len(isolated.silver([good["event_id"]])) == 1
    total = (
        lake_duckdb.connect(isolated.store)
        .execute(f"SELECT count(*) FROM read_parquet('{isolated.store.uri('silver/orders')}/**/*.parquet')")
        .fetchone()[0]
    )
    assert total == 1
