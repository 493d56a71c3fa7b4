"""Read exactly a batch's offset ranges from Kafka, transform every record, land bronze and quarantine objects."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from confluent_kafka import KafkaError, KafkaException, TopicPartition

from assets.bronze.ranges import Ranges
from assets.bronze.topics import TopicSpec
from assets.bronze.transform import KafkaRecord, iso_ms, transform
from assets.bronze.writer import ObjectWriter
from resources.kafka import KafkaResource
from resources.object_store import ObjectStoreResource

PREFIXES = {"bronze": "bronze/stream", "quarantine": "bronze/quarantine"}
CONSUME_BATCH = 5000  # messages per consume() call
STALL_SECONDS = 60.0  # no message and no end-of-partition for this long: the broker is not answering


class IngestError(RuntimeError):
    """The batch could not be read or landed; nothing of it is acknowledged."""


@dataclass
class BatchResult:
    """Everything a materialization reports about one micro-batch."""

    topic: str
    ranges: Ranges
    landed: int = 0
    quarantined: int = 0
    bytes_read: int = 0
    offset_gaps: int = 0  # offsets in range that hold no record (transaction markers, compaction)
    lost: dict[int, tuple[int, int]] = field(default_factory=dict)  # partition -> deleted [first, last]
    lag_after: dict[int, int] = field(default_factory=dict)
    objects: list[dict] = field(default_factory=list)
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    event_time: list[datetime] = field(default_factory=list)  # [min, max]
    kafka_time: list[int] = field(default_factory=list)  # [min, max] epoch ms
    seconds: float = 0.0
    group_commit_error: str | None = None  # the consumer-group commit failed (informational only)

    @property
    def lost_count(self) -> int:
        """Offsets retention deleted before they were read."""
        return sum(last - first + 1 for first, last in self.lost.values())

    @property
    def offsets_in_range(self) -> int:
        """Offsets the batch covered."""
        return sum(end - start for start, end in self.ranges.values())


def _widen(bounds: list, value) -> None:
    if not bounds:
        bounds.extend([value, value])
    else:
        bounds[0], bounds[1] = min(bounds[0], value), max(bounds[1], value)


def _parse_time(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def ingest_batch(
    kafka: KafkaResource, store: ObjectStoreResource, spec: TopicSpec, ranges: Ranges,
    max_bytes: int, max_message_bytes: int, commit_group: bool = True,
) -> BatchResult:
    """Land the records of `ranges` (partition -> [start, end)) of `spec.topic` in the object store."""
    started = time.monotonic()
    result = BatchResult(spec.topic, dict(ranges))
    processed_at = iso_ms(int(time.time() * 1000))
    consumer = kafka.consumer(**{
        "enable.partition.eof": True,
        "fetch.max.bytes": max(1_048_576, min(max_bytes, 52_428_800)),
        "queued.max.messages.kbytes": max(1024, min(max_bytes // 1024, 65_536)),
    })
    writer = ObjectWriter(spec.topic, PREFIXES)
    try:
        todo = _assign(consumer, spec.topic, ranges, result)
        _consume(consumer, spec, todo, ranges, result, writer, processed_at, max_message_bytes)
        try:
            result.objects = writer.upload(store.client(), store.bucket)
        except Exception as exc:
            raise IngestError(
                f"could not write to the object store at {store.endpoint} (bucket {store.bucket}): {exc}. "
                "Nothing was acknowledged; re-execute the run once the store is back."
            ) from exc
        if commit_group:
            result.group_commit_error = _commit(consumer, spec.topic, ranges)
    finally:
        consumer.close()
    result.seconds = time.monotonic() - started
    return result


def _assign(consumer, topic: str, ranges: Ranges, result: BatchResult) -> dict[int, int]:
    """Assign the partitions at their start offsets; note offsets deleted by retention. Returns partition -> end."""
    assignments, todo = [], {}
    for partition, (start, end) in sorted(ranges.items()):
        try:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
        except KafkaException as exc:
            raise IngestError(f"cannot read offsets of {topic}[{partition}]: {exc}") from exc
        if start < low:
            result.lost[partition] = (start, min(low, end) - 1)
            start = low
        result.lag_after[partition] = max(0, high - end)
        if start < end:
            assignments.append(TopicPartition(topic, partition, start))
            todo[partition] = end
    consumer.assign(assignments)
    return todo


def _consume(consumer, spec: TopicSpec, todo: dict[int, int], ranges: Ranges, result: BatchResult,
             writer: ObjectWriter, processed_at: str, max_message_bytes: int) -> None:
    seen: dict[int, int] = {p: 0 for p in todo}
    last_progress = time.monotonic()
    while todo:
        batch = consumer.consume(num_messages=CONSUME_BATCH, timeout=1.0)
        if not batch:
            if time.monotonic() - last_progress > STALL_SECONDS:
                raise IngestError(f"{spec.topic}: no data from Kafka for {STALL_SECONDS:.0f}s; still waiting for "
                                  f"partitions {sorted(todo)}")
            continue
        last_progress = time.monotonic()
        for msg in batch:
            partition = msg.partition()
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    # at the end of what is readable: done only if that covers the range (an open
                    # transaction holds the readable end below it: keep waiting)
                    if partition in todo and msg.offset() >= todo[partition]:
                        _done(consumer, spec.topic, partition, todo)
                    continue
                raise IngestError(f"{spec.topic}[{partition}]: {msg.error()}")
            if partition not in todo:
                continue
            if msg.offset() >= todo[partition]:
                _done(consumer, spec.topic, partition, todo)
                continue
            _land(msg, spec, result, writer, processed_at, max_message_bytes)
            seen[partition] += 1
            if msg.offset() == todo[partition] - 1:
                _done(consumer, spec.topic, partition, todo)
    lost = {p: last - first + 1 for p, (first, last) in result.lost.items()}
    result.offset_gaps = sum(end - start - lost.get(p, 0) - seen.get(p, 0) for p, (start, end) in ranges.items())


def _done(consumer, topic: str, partition: int, todo: dict[int, int]) -> None:
    if todo.pop(partition, None) is not None:
        consumer.pause([TopicPartition(topic, partition)])


def _land(msg, spec: TopicSpec, result: BatchResult, writer: ObjectWriter, processed_at: str,
          max_message_bytes: int) -> None:
    ts_type, ts = msg.timestamp()
    rec = KafkaRecord(spec.topic, msg.partition(), msg.offset(), ts if ts_type and ts >= 0 else None,
                      msg.key(), msg.value())
    outcome = transform(rec, spec, processed_at, max_message_bytes)
    dt = (outcome.line["_kafka"]["timestamp"] or processed_at)[:10]
    result.bytes_read += len(rec.value or b"")
    if rec.timestamp_ms is not None:
        _widen(result.kafka_time, rec.timestamp_ms)
    if outcome.quarantined:
        result.quarantined += 1
        reason = outcome.line["reason"].split(":")[0]
        result.quarantine_reasons[reason] = result.quarantine_reasons.get(reason, 0) + 1
        writer.add("quarantine", rec.partition, dt, rec.offset, outcome.line)
        return
    result.landed += 1
    if outcome.event_time and (parsed := _parse_time(outcome.event_time)):
        _widen(result.event_time, parsed)
    writer.add("bronze", rec.partition, dt, rec.offset, outcome.line)


def _commit(consumer, topic: str, ranges: Ranges, attempts: int = 5) -> str | None:
    """Move the lakehouse-bronze group forward (never back), so Kafka tooling shows the lag.

    Only informational (the sensor cursor drives ingestion), so a failure is returned, not raised."""
    parts = [TopicPartition(topic, p) for p in sorted(ranges)]
    error = None
    for attempt in range(attempts):
        try:
            committed = {tp.partition: tp.offset for tp in consumer.committed(parts, timeout=10)}
            ahead = [TopicPartition(topic, p, end) for p, (_, end) in sorted(ranges.items())
                     if end > committed.get(p, -1)]
            if ahead:
                consumer.commit(offsets=ahead, asynchronous=False)
            return None
        except KafkaException as exc:  # e.g. the group coordinator is still loading after a broker start
            error = str(exc)
            time.sleep(0.5 * (attempt + 1))
    return error
