"""`lakehouse produce`: reproducible events, the requested mix of problems, and an honest report."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from confluent_kafka import Consumer, TopicPartition

from infra import cli
from infra.generator import REQUIRED_FIELDS, GeneratorError, GeneratorSpec, generate, produce

START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_same_seed_same_events():
    spec = GeneratorSpec(
        count=500, seed=42, start=START, disorder=5, late_fraction=0.1, duplicate_fraction=0.05, bad_fraction=0.1
    )
    assert list(generate(spec)) == list(generate(spec))
    other = list(generate(GeneratorSpec(count=500, seed=43, start=START)))
    assert other != list(generate(GeneratorSpec(count=500, seed=42, start=START)))


def test_events_are_well_formed_orders_within_the_disorder_bound():
    spec = GeneratorSpec(count=2000, rate=100, seed=1, start=START, disorder=5)
    events = list(generate(spec))
    assert {e.kind for e in events} == {"ok"}
    for i, e in enumerate(events):
        order = json.loads(e.value)
        assert set(REQUIRED_FIELDS) <= set(order)
        assert order["status"] in ("created", "paid", "shipped", "cancelled")
        assert isinstance(order["amount"], float)
        event_time = datetime.fromisoformat(order["created_at"].replace("Z", "+00:00"))
        lag = (START - event_time).total_seconds() + i / 100
        assert -0.001 <= lag <= 5.001
    assert len({json.loads(e.value)["event_id"] for e in events}) == 2000


def test_problem_fractions_are_respected_and_bad_records_are_really_bad():
    spec = GeneratorSpec(count=5000, seed=3, start=START, late_fraction=0.1, duplicate_fraction=0.05, bad_fraction=0.1)
    events = list(generate(spec))
    kinds = {k: sum(1 for e in events if e.kind == k) for k in {e.kind for e in events}}
    assert 350 < kinds["late"] < 650
    assert 150 < kinds["duplicate"] < 350
    bad = [e for e in events if e.kind in ("malformed_json", "missing_field", "wrong_type")]
    assert 350 < len(bad) < 650
    for e in bad:
        if e.kind == "malformed_json":
            with pytest.raises(json.JSONDecodeError):
                json.loads(e.value)
        elif e.kind == "missing_field":
            assert not set(REQUIRED_FIELDS) <= set(json.loads(e.value))
        else:
            order = json.loads(e.value)
            assert (
                not isinstance(order["amount"], (int, float))
                or not isinstance(order["created_at"], str)
                or not isinstance(order["status"], str)
            )
    originals = {e.event_id: e.value for e in events if e.kind in ("ok", "late")}
    assert all(originals[e.event_id] == e.value for e in events if e.kind == "duplicate")


def test_report_matches_what_kafka_holds(resources, fresh_topic):
    spec = GeneratorSpec(topic=fresh_topic, count=3000, rate=0, seed=5, bad_fraction=0.1, duplicate_fraction=0.05)
    report = produce(spec, resources["kafka"].bootstrap_servers, keep_records=True)
    assert report.failed == []
    assert report.delivered == 3000 == sum(report.by_kind.values())
    consumer = Consumer({"bootstrap.servers": resources["kafka"].bootstrap_servers, "group.id": "test-gen"})
    consumer.assign([TopicPartition(fresh_topic, p, 0) for p in range(3)])
    held = {}
    while len(held) < 3000:
        msg = consumer.poll(10)
        assert msg is not None and msg.error() is None
        held[(msg.partition(), msg.offset())] = msg.value()
    consumer.close()
    assert {(p, o) for p, o, _, _ in report.records} == set(held)
    assert sum(report.by_partition.values()) == 3000


def test_unknown_topic_is_a_clear_error(resources):
    with pytest.raises(GeneratorError, match="topic 'nope-not-here' does not exist"):
        produce(GeneratorSpec(topic="nope-not-here", count=1), resources["kafka"].bootstrap_servers)


def test_kafka_down_is_a_clear_error():
    with pytest.raises(GeneratorError, match="unreachable"):
        produce(GeneratorSpec(count=1), "127.0.0.1:1")


def test_the_rate_is_kept_so_event_time_follows_the_wall_clock(resources, fresh_topic):
    import time

    began = time.monotonic()
    report = produce(GeneratorSpec(topic=fresh_topic, count=60, rate=20, seed=9), resources["kafka"].bootstrap_servers)
    elapsed = time.monotonic() - began
    assert report.delivered == 60
    assert elapsed >= 59 / 20, f"60 events at 20/s took only {elapsed:.2f}s"


def test_two_runs_without_a_seed_send_different_event_ids(resources, fresh_topic):
    """Restarting the dev generator must not resend old event ids (silver would drop them as duplicates)."""
    for _ in range(2):
        assert cli.main(["produce", "--topic", fresh_topic, "--count", "50", "--rate", "0"]) == 0
    consumer = Consumer({"bootstrap.servers": resources["kafka"].bootstrap_servers, "group.id": "test-gen-seed"})
    consumer.assign([TopicPartition(fresh_topic, p, 0) for p in range(3)])
    ids = []
    while len(ids) < 100:
        msg = consumer.poll(10)
        assert msg is not None and msg.error() is None
        ids.append(json.loads(msg.value()).get("event_id"))
    consumer.close()
    assert len(set(ids)) == 100
