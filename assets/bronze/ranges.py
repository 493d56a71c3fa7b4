"""Offset ranges: what a micro-batch reads, how batches are planned from watermarks, and their run keys."""
from __future__ import annotations

import json
from dataclasses import dataclass

from confluent_kafka import KafkaException, TopicPartition

from resources.kafka import KafkaResource

# partition -> (first offset, end offset exclusive)
Ranges = dict[int, tuple[int, int]]


@dataclass(frozen=True)
class Watermarks:
    """A partition's low (oldest retained) and high (next to be written) offsets."""

    low: int
    high: int


def plan_batches(
    cursor: dict[int, int], watermarks: dict[int, Watermarks], max_records: int, max_runs: int
) -> tuple[list[Ranges], dict[int, int]]:
    """Split everything between the cursor (next offset per partition) and the high watermarks into
    batches of at most `max_records`, oldest first; return the batches and the advanced cursor.

    A partition the cursor has never seen starts at its low watermark. A cursor below the low
    watermark is kept as is, so the run can report the offsets that retention deleted."""
    position = {p: cursor.get(p, wm.low) for p, wm in watermarks.items()}
    batches: list[Ranges] = []
    while len(batches) < max_runs:
        budget = max_records
        batch: Ranges = {}
        for p in sorted(watermarks):
            if budget <= 0:
                break
            start = position[p]
            lost = max(0, watermarks[p].low - start)  # deleted offsets cost nothing to read
            end = min(watermarks[p].high, start + lost + budget)
            if end > start:
                batch[p] = (start, end)
                budget -= end - start - min(lost, end - start)
                position[p] = end
        if not batch:
            break
        batches.append(batch)
    return batches, {**cursor, **position}


def run_key(topic: str, ranges: Ranges) -> str:
    """A key naming exactly these ranges, so the same range is never requested twice."""
    return f"{topic}|" + ",".join(f"p{p}:{s}-{e}" for p, (s, e) in sorted(ranges.items()))


def encode_cursor(cursor: dict[int, int]) -> str:
    """Cursor as stored by the sensor."""
    return json.dumps({str(p): o for p, o in sorted(cursor.items())})


def decode_cursor(value: str | None) -> dict[int, int]:
    """Inverse of encode_cursor ({} for a new sensor)."""
    return {int(p): int(o) for p, o in json.loads(value).items()} if value else {}


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
        raise UnknownTopicError(f"topic {topic!r} does not exist on {kafka.bootstrap_servers}"
                                + (f" ({info.error})" if info is not None and info.error else ""))
    consumer = kafka.consumer()
    try:
        marks = {}
        for partition in sorted(info.partitions):
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            marks[partition] = Watermarks(low, high)
        return marks
    finally:
        consumer.close()
