"""Offset ranges: what a micro-batch reads, how batches are planned from watermarks, and their run keys."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from confluent_kafka import KafkaException, TopicCollection, TopicPartition

from resources.kafka import KafkaResource

# [first offset, end offset) of one partition; a batch's ranges by partition
Interval = tuple[int, int]
Ranges = dict[int, Interval]


@dataclass(frozen=True)
class Watermarks:
    """A partition's low (oldest retained) and high (next to be written) offsets."""

    low: int
    high: int


def missing(start: int, end: int, covered: list[Interval]) -> list[Interval]:
    """The parts of [start, end) that no interval of `covered` covers, in order."""
    gaps, position = [], start
    for s, e in sorted(covered):
        if e <= position or s >= end:
            continue
        if s > position:
            gaps.append((position, s))
        position = max(position, e)
    if position < end:
        gaps.append((position, end))
    return gaps


def plan_batches(
    todo: dict[int, list[Interval]], lows: dict[int, int], max_records: int, max_runs: int
) -> list[Ranges]:
    """Pack each partition's intervals into batches of at most `max_records`, oldest first, one contiguous
    range per partition per batch. Offsets below a partition's low watermark (deleted by retention) cost
    nothing to read: the run reports them as lost."""
    queues = {p: sorted(intervals) for p, intervals in todo.items() if intervals}
    batches: list[Ranges] = []
    while queues and len(batches) < max_runs:
        budget, batch = max_records, {}
        for p in sorted(queues):
            if budget <= 0:
                break
            start, stop = queues[p][0]
            lost = max(0, min(lows.get(p, 0), stop) - start)
            end = min(stop, start + lost + budget)
            batch[p] = (start, end)
            budget -= end - start - lost
            if end == stop:
                queues[p].pop(0)
            else:
                queues[p][0] = (end, stop)
        queues = {p: q for p, q in queues.items() if q}
        batches.append(batch)
    return batches


def run_key(topic: str, topic_id: str, ranges: Ranges, attempt: int = 1) -> str:
    """A key naming exactly these ranges of this topic incarnation (and the attempt, for a re-request)."""
    key = f"{topic}@{topic_id[:8]}|" + ",".join(f"p{p}:{s}-{e}" for p, (s, e) in sorted(ranges.items()))
    return key if attempt == 1 else f"{key}#attempt-{attempt}"


def legacy_cursor(value: str | None) -> dict[int, int]:
    """Next offset per partition from a sensor cursor written before the ledger existed ({} otherwise)."""
    if not value:
        return {}
    data = json.loads(value)
    return {int(p): int(o) for p, o in data.items()} if all(p.isdigit() for p in data) else {}


class UnknownTopicError(RuntimeError):
    """The topic does not exist on the cluster (topics are never auto-created)."""


def read_watermarks(kafka: KafkaResource, topic: str) -> dict[int, Watermarks]:
    """Low and high watermarks of every partition of `topic`; a clear error when Kafka or the topic is missing."""
    try:
        meta = kafka.admin().list_topics(topic=topic, timeout=10)
    except KafkaException as exc:
        raise RuntimeError(f"Kafka at {kafka.bootstrap_servers} is unreachable: {exc}") from exc
    info = meta.topics.get(topic)
    if info is None or info.error is not None or not info.partitions:
        raise UnknownTopicError(
            f"topic {topic!r} does not exist on {kafka.bootstrap_servers}"
            + (f" ({info.error})" if info is not None and info.error else "")
        )
    consumer = kafka.consumer()
    try:
        marks = {}
        for partition in sorted(info.partitions):
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            marks[partition] = Watermarks(low, high)
        return marks
    finally:
        consumer.close()


def wait_for_new_records(
    kafka: KafkaResource, topic: str, marks: dict[int, Watermarks], seconds: float, poll_s: float = 0.2
) -> dict[int, Watermarks]:
    """The watermarks once a partition's high watermark moved past `marks` (or the partitions changed), or `marks`
    after `seconds`: a sensor tick that found nothing waits here so a record is requested a moment after it
    arrives, not at the next tick."""
    deadline = time.monotonic() + seconds
    consumer = kafka.consumer()
    try:
        while time.monotonic() < deadline:
            time.sleep(min(poll_s, max(0.0, deadline - time.monotonic())))
            try:
                now = {
                    p: Watermarks(*consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=5)) for p in marks
                }
            except KafkaException:
                return marks  # the tick goes on with what it read; the next one reports an unreachable broker
            if any(now[p].high != marks[p].high for p in marks):
                return read_watermarks(kafka, topic)  # every partition, new ones too
        return marks
    finally:
        consumer.close()


def read_topic_id(kafka: KafkaResource, topic: str) -> str:
    """Kafka's id of the topic (a new one each time a topic of this name is created)."""
    admin = kafka.admin()  # held until the future resolves: a collected client cancels it
    try:
        description = admin.describe_topics(TopicCollection([topic]), request_timeout=10)[topic].result()
    except KafkaException as exc:
        raise RuntimeError(f"cannot describe topic {topic!r} on {kafka.bootstrap_servers}: {exc}") from exc
    return str(description.topic_id)
