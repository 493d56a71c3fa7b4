"""Read exactly a batch's offset ranges from Kafka, transform every record, land bronze and quarantine objects."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

from confluent_kafka import KafkaError, KafkaException, TopicPartition

from assets.bronze.ranges import Ranges
from assets.bronze.topics import TopicSpec
from assets.bronze.transform import MAX_TIMESTAMP_MS, Transform, iso_ms
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
    tombstones: int = 0  # landed records without a value (a delete's tombstone, on topics that expect them)
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
    """Widen [min, max] in `bounds` to cover `value` (per record: no call to min/max, no new list)."""
    if not bounds:
        bounds.extend((value, value))
    elif value < bounds[0]:
        bounds[0] = value
    elif value > bounds[1]:
        bounds[1] = value


def ingest_batch(
    kafka: KafkaResource,
    store: ObjectStoreResource,
    spec: TopicSpec,
    ranges: Ranges,
    max_bytes: int,
    max_message_bytes: int,
    commit_group: bool = True,
    topic_id: str = "",
) -> BatchResult:
    """Land the records of `ranges` (partition -> [start, end)) of `spec.topic` in the object store.

    `topic_id` (Kafka's id of the topic) goes into the object names, so a re-created topic never collides
    with the old one's objects."""
    started = time.monotonic()
    result = BatchResult(spec.topic, dict(ranges))
    transform = Transform(spec, iso_ms(int(time.time() * 1000)), max_message_bytes)
    consumer = kafka.consumer(
        **{
            "enable.partition.eof": True,
            "fetch.max.bytes": max(1_048_576, min(max_bytes, 52_428_800)),
            "queued.max.messages.kbytes": max(1024, min(max_bytes // 1024, 65_536)),
        }
    )
    writer = ObjectWriter(spec.topic, PREFIXES, topic_id)
    try:
        todo = _assign(consumer, spec.topic, ranges, result)
        _consume(consumer, spec.topic, todo, ranges, result, writer, transform)
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


def _consume(
    consumer,
    topic: str,
    todo: dict[int, int],
    ranges: Ranges,
    result: BatchResult,
    writer: ObjectWriter,
    transform: Transform,
) -> None:
    seen: dict[int, int] = {p: 0 for p in todo}
    position = {p: ranges[p][0] for p in todo}  # next offset expected per partition
    last_progress = time.monotonic()
    while todo:
        # Ask for exactly what is left: consume() returns once it has that many messages or at its timeout, so
        # asking for more than the range holds would make every small batch wait out the timeout.
        left = sum(end - position[p] for p, end in todo.items())
        batch = consumer.consume(num_messages=max(1, min(CONSUME_BATCH, left)), timeout=1.0)
        if not batch:
            if time.monotonic() - last_progress > STALL_SECONDS:
                raise IngestError(
                    f"{topic}: no data from Kafka for {STALL_SECONDS:.0f}s; still waiting for partitions {sorted(todo)}"
                )
            continue
        last_progress = time.monotonic()
        for msg in batch:
            partition = msg.partition()
            error = msg.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    # at the end of what is readable: done only if that covers the range (an open
                    # transaction holds the readable end below it: keep waiting)
                    if partition in todo and msg.offset() >= todo[partition]:
                        _done(consumer, topic, partition, todo)
                    continue
                raise IngestError(f"{topic}[{partition}]: {error}")
            end = todo.get(partition)
            if end is None:
                continue
            offset = msg.offset()
            if offset >= end:
                _done(consumer, topic, partition, todo)
                continue
            _land(msg, partition, offset, result, writer, transform)
            seen[partition] += 1
            position[partition] = offset + 1
            if offset == end - 1:
                _done(consumer, topic, partition, todo)
    lost = {p: last - first + 1 for p, (first, last) in result.lost.items()}
    result.offset_gaps = sum(end - start - lost.get(p, 0) - seen.get(p, 0) for p, (start, end) in ranges.items())


def _done(consumer, topic: str, partition: int, todo: dict[int, int]) -> None:
    if todo.pop(partition, None) is not None:
        consumer.pause([TopicPartition(topic, partition)])


def _land(msg, partition: int, offset: int, result: BatchResult, writer: ObjectWriter, transform: Transform) -> None:
    """Transform one message and hand its line to the writer; count it."""
    ts_type, ts = msg.timestamp()
    if ts_type and 0 <= ts <= MAX_TIMESTAMP_MS:
        _widen(result.kafka_time, ts)
    else:
        ts = None
    value = msg.value()
    dt, line, event_time, reason = transform(partition, offset, ts, msg.key(), value)
    if value is not None:
        result.bytes_read += len(value)
    if reason is None:
        result.landed += 1
        if value is None:
            result.tombstones += 1
        if event_time is not None:
            _widen(result.event_time, event_time)
        writer.add("bronze", partition, dt, offset, line)
        return
    result.quarantined += 1
    category = reason.split(":")[0].split(" (")[0]  # "schema orders", "malformed JSON", "JSON value is not an object"
    result.quarantine_reasons[category] = result.quarantine_reasons.get(category, 0) + 1
    writer.add("quarantine", partition, dt, offset, line)


def _commit(consumer, topic: str, ranges: Ranges, attempts: int = 5) -> str | None:
    """Move the lakehouse-bronze group forward (never back), so Kafka tooling shows the lag.

    Only informational (the sensor cursor drives ingestion), so a failure is returned, not raised."""
    parts = [TopicPartition(topic, p) for p in sorted(ranges)]
    error = None
    for attempt in range(attempts):
        try:
            committed = {tp.partition: tp.offset for tp in consumer.committed(parts, timeout=10)}
            ahead = [
                TopicPartition(topic, p, end) for p, (_, end) in sorted(ranges.items()) if end > committed.get(p, -1)
            ]
            if ahead:
                consumer.commit(offsets=ahead, asynchronous=False)
            return None
        except KafkaException as exc:  # e.g. the group coordinator is still loading after a broker start
            error = str(exc)
            time.sleep(0.5 * (attempt + 1))
    return error
