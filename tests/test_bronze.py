"""Kafka -> bronze through the real sensor, job and instance: every record landed or quarantined exactly once."""

from __future__ import annotations

import re
import threading
import time

import pytest
from confluent_kafka import Producer, TopicPartition
from dagster import DagsterInstance

from assets.bronze.topics import TopicSpec
from assets.bronze.writer import topic_token
from infra.generator import BAD_KINDS, GeneratorSpec, produce
from orchestration.run_coordinator import IMMEDIATE, LAUNCH_TAG
from tests.support.bronze import BronzeHarness, check_results


@pytest.fixture
def harness(fresh_topic, resources):
    return BronzeHarness(TopicSpec(fresh_topic, "json", "orders"), DagsterInstance.ephemeral())


def _produce(harness, count, seed=11, **kw):
    spec = GeneratorSpec(topic=harness.spec.topic, count=count, rate=0, seed=seed, **kw)
    report = produce(spec, harness.resources["kafka"].bootstrap_servers, keep_records=True)
    assert not report.failed
    return report


def test_a_tick_that_finds_nothing_waits_for_the_next_record_and_requests_it_at_once(harness):
    harness.settings(sensor_wait_seconds=8)
    _produce(harness, 5)
    assert len(harness.tick()) == 1  # something to do: no wait
    started = time.monotonic()
    assert harness.tick() == []  # nothing new: the tick waited the whole 8 s for a record
    assert time.monotonic() - started >= 8

    produced = []
    later = threading.Timer(3, lambda: produced.append((_produce(harness, 1), time.monotonic())))
    started = time.monotonic()
    later.start()
    [request] = harness.tick()  # the record produced 3 s into the wait is requested before the wait ends
    returned = time.monotonic()
    later.join()
    assert returned - started < 8 and returned - produced[0][1] < 2
    ranges = request.run_config["ops"][harness.asset.op.name]["config"]["ranges"]
    assert sum(end - start for start, end in ranges.values()) == 1
    assert request.tags[LAUNCH_TAG] == IMMEDIATE  # and launched as it is submitted (the run queue's fast lane)


def test_every_record_lands_or_is_quarantined_exactly_once(harness):
    harness.settings(max_records=700)
    report = _produce(harness, 3000, bad_fraction=0.1, duplicate_fraction=0.05, late_fraction=0.05, disorder=30)
    results = harness.drain()
    assert len(results) >= 3000 // 700
    assert all(
        check_results(r)
        == {"records_accounted_for": True, "no_records_lost_to_retention": True, "consumer_lag_below_threshold": True}
        for r in results
    )

    landed, quarantined = harness.offsets("stream"), harness.offsets("quarantine")
    assert len(landed) == len(set(landed)) and len(quarantined) == len(set(quarantined)), "a record landed twice"
    assert set(landed) | set(quarantined) == {(p, o) for p, o, _, _ in report.records}
    assert not set(landed) & set(quarantined)
    bad = {(p, o) for p, o, kind, _ in report.records if kind in BAD_KINDS}
    assert set(quarantined) == bad
    for key, lines in harness.objects("stream").items():
        partitions = {line["_kafka"]["partition"] for line in lines}
        assert len(partitions) == 1, f"{key} mixes partitions"
        offsets = [line["_kafka"]["offset"] for line in lines]
        assert key.endswith(f"-p{partitions.pop()}-{offsets[0]}-{offsets[-1]}.jsonl.zst")
        assert f"{harness.spec.topic}-{topic_token(harness.topic_id)}-p" in key, "the topic's id keeps its keys apart"
        assert all(line["processed_at"] and line["event_id"] for line in lines)
    for lines in harness.objects("quarantine").values():
        assert all(line["reason"] and "raw_base64" in line for line in lines)

    # the materializations tell the same story, and every batch's checks passed
    events = harness.instance.fetch_materializations(harness.asset.key, limit=100).records
    assert sum(e.asset_materialization.metadata["records_landed"].value for e in events) == len(landed)
    assert sum(e.asset_materialization.metadata["records_quarantined"].value for e in events) == len(quarantined)


def test_a_batch_larger_than_a_compression_chunk_reads_back_exactly(harness):
    # one run, three partitions and quarantined records: several objects each get more than the writer's
    # chunk (FLUSH_BYTES) of lines, so their compressed frames are written interleaved
    harness.settings(max_records=10_000)
    report = _produce(harness, 3000, bad_fraction=0.05)
    assert len(harness.drain()) == 1
    ids = {(p, o): event_id for p, o, kind, event_id in report.records if kind not in BAD_KINDS}
    landed = {
        (line["_kafka"]["partition"], line["_kafka"]["offset"]): line
        for lines in harness.objects("stream").values()
        for line in lines
    }
    assert {k: line["event_id"] for k, line in landed.items()} == ids
    assert all(
        re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["_kafka"]["timestamp"]) for line in landed.values()
    )
    assert len(harness.offsets("quarantine")) == len(report.records) - len(ids)


def test_quiet_topic_requests_nothing_and_reexecution_changes_no_object(harness):
    _produce(harness, 200)
    first = harness.tick()
    assert len(first) == 1
    harness.run(first[0])
    assert harness.tick() == [] and harness.tick() == []

    store = harness.resources["object_store"]
    s3 = store.client()
    before = {
        o["Key"]: (o["ETag"], o["LastModified"])
        for o in s3.list_objects_v2(Bucket=store.bucket, Prefix=f"bronze/stream/{harness.spec.topic}/")["Contents"]
    }
    harness.run(first[0])  # re-execute the same batch
    after = {
        o["Key"]: (o["ETag"], o["LastModified"])
        for o in s3.list_objects_v2(Bucket=store.bucket, Prefix=f"bronze/stream/{harness.spec.topic}/")["Contents"]
    }
    assert after == before
    assert sorted(harness.offsets("stream")) == sorted(set(harness.offsets("stream")))


def test_a_run_killed_mid_batch_and_retried_leaves_no_duplicate_and_no_gap(harness, monkeypatch):
    report = _produce(harness, 900)
    [request] = harness.tick()
    import assets.bronze.writer as writer

    real_head = writer._head
    calls = {"n": 0}

    def dying_head(s3, bucket, key):
        calls["n"] += 1
        if calls["n"] == 2:  # after the first object is written, the process "dies"
            raise KeyboardInterrupt("killed mid-batch")
        return real_head(s3, bucket, key)

    monkeypatch.setattr(writer, "_head", dying_head)
    with pytest.raises(BaseException):  # noqa: B017 (Dagster may re-raise the interrupt as its own error)
        harness.run(request)
    assert 0 < len(harness.objects("stream")) < 3, "the kill should leave a partial batch"
    monkeypatch.setattr(writer, "_head", real_head)
    harness.run(request)  # the retry
    landed = harness.offsets("stream")
    assert len(landed) == len(set(landed)) == 900
    assert set(landed) == {(p, o) for p, o, _, _ in report.records}


def test_offsets_deleted_by_retention_are_reported_and_ingestion_carries_on(harness):
    _produce(harness, 300)
    harness.drain()
    _produce(harness, 300, seed=12)
    [request] = harness.tick()
    ranges = request.run_config["ops"][harness.asset.op.name]["config"]["ranges"]
    partition, (start, end) = next((int(p), r) for p, r in ranges.items() if r[1] - r[0] >= 10)
    admin = harness.resources["kafka"].admin()
    admin.delete_records([TopicPartition(harness.spec.topic, partition, start + 5)])[
        TopicPartition(harness.spec.topic, partition, start + 5)
    ].result(30)

    result = harness.run(request, raise_on_error=False)
    assert result.success, "a retention gap must not fail the batch"
    mat = result.asset_materializations_for_node(harness.asset.op.name)[0]
    assert mat.metadata["records_lost_to_retention"].value == 5
    check = {
        e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }
    assert check["no_records_lost_to_retention"].passed is False
    assert check["no_records_lost_to_retention"].metadata["lost_offsets"].value == {str(partition): [start, start + 4]}
    assert check["records_accounted_for"].passed is True
    assert (partition, start) not in harness.offsets("stream")
    _produce(harness, 50, seed=13)
    assert len(harness.drain()) == 1, "the sensor carries on after the gap"


def test_plain_text_lines_land_with_processed_at(fresh_topic, resources):
    harness = BronzeHarness(TopicSpec(fresh_topic, "text"), DagsterInstance.ephemeral())
    producer = Producer({"bootstrap.servers": resources["kafka"].bootstrap_servers})
    lines = ["xin chào", "hello lakehouse", "third line"]
    for line in lines:
        producer.produce(fresh_topic, line.encode())
    producer.flush(10)
    harness.drain()
    landed = [line for lines_ in harness.objects("stream").values() for line in lines_]
    assert sorted(line["value"] for line in landed) == sorted(lines)
    assert all(line["processed_at"].endswith("Z") for line in landed)
    assert harness.objects("quarantine") == {}


def test_unknown_topic_fails_the_tick_with_its_name(resources):
    harness = BronzeHarness(TopicSpec("no-such-topic-for-bronze", "json"), DagsterInstance.ephemeral())
    with pytest.raises(Exception, match="no-such-topic-for-bronze"):
        harness.tick()


def test_a_batch_whose_run_was_never_launched_is_requested_again(harness):
    report = _produce(harness, 300)
    [request] = harness.tick()
    # the daemon created the run, then died before submitting it
    stranded = harness.pending.pop(request.run_key)
    harness.settings(stale_run_seconds=0)
    [again] = harness.tick()
    assert again.run_key == request.run_key + "#attempt-2"
    assert harness.instance.get_run_by_id(stranded.run_id).status.value == "CANCELED"
    harness.run(again)
    assert harness.tick() == []
    landed = harness.offsets("stream")
    assert len(landed) == len(set(landed)) and set(landed) == {(p, o) for p, o, _, _ in report.records}
