"""The bronze path's rules (assets/bronze/transform.py) in the shape the Spark queries call them.

Spark ships these functions to its Python workers (by reference: the workers import the platform's code), so a
Spark record is landed or quarantined exactly as bronze and Flink treat it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from assets.bronze.topics import TopicSpec
from assets.bronze.transform import Transform

# For the aggregate only the verdict and the event time matter, not processed_at.
_NO_PROCESSED_AT = "1970-01-01T00:00:00.000Z"


def _bytes(value: bytes | bytearray | None) -> bytes | None:
    return bytes(value) if value is not None else None


class PartitionLines:
    """(processed_at, Kafka rows) -> (quarantined?, line) per record: the bronze line, or the quarantine line with
    the reason and the record's exact bytes."""

    def __init__(self, spec: TopicSpec, max_message_bytes: int) -> None:
        self.spec, self.max_message_bytes = spec, max_message_bytes

    def __call__(self, processed_at: str, rows: Iterable[Any]) -> Iterator[tuple[bool, str]]:
        transform = Transform(self.spec, processed_at, self.max_message_bytes)
        for row in rows:
            _, line, _, reason = transform(
                row.partition, row.offset, row.timestamp_ms, _bytes(row.key), _bytes(row.value)
            )
            yield reason is not None, line.decode().rstrip("\n")


class OrderCheck:
    """(partition, offset, timestamp ms, key, value) -> (reason, event time) of one record; one Transform per
    worker process, made on first use."""

    def __init__(self, spec: TopicSpec, max_message_bytes: int) -> None:
        self.spec, self.max_message_bytes = spec, max_message_bytes
        self.transform: Transform | None = None

    def __getstate__(self) -> dict:
        return {"spec": self.spec, "max_message_bytes": self.max_message_bytes, "transform": None}

    def __call__(
        self, partition: int, offset: int, timestamp_ms: int | None, key: bytes | None, value: bytes | None
    ) -> tuple[str | None, datetime | None]:
        if self.transform is None:
            self.transform = Transform(self.spec, _NO_PROCESSED_AT, self.max_message_bytes)
        _, _, event_time, reason = self.transform(partition, offset, timestamp_ms, _bytes(key), _bytes(value))
        return reason, event_time
