"""The stateless bronze transform: one Kafka record in, one JSON line (or one quarantine line) out."""
from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache

import orjson

from assets.bronze.schemas import violations
from assets.bronze.topics import TopicSpec

RESERVED = ("processed_at", "_kafka")


@dataclass(frozen=True)
class KafkaRecord:
    """The parts of a Kafka message the transform needs."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True)
class Outcome:
    """A transformed record: `line` for bronze, or `reason` when it goes to quarantine."""

    line: dict
    quarantined: bool
    event_time: str | None = None


def iso_ms(epoch_ms: int) -> str:
    """Epoch milliseconds as an ISO-8601 UTC string (2026-01-01T00:00:00.123Z)."""
    seconds, millis = divmod(epoch_ms, 1000)
    return f"{_iso_seconds(seconds)}.{millis:03d}Z"


@lru_cache(maxsize=4096)
def _iso_seconds(epoch_seconds: int) -> str:
    return datetime.fromtimestamp(epoch_seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def _kafka_meta(rec: KafkaRecord) -> dict:
    meta: dict = {
        "topic": rec.topic,
        "partition": rec.partition,
        "offset": rec.offset,
        "timestamp": iso_ms(rec.timestamp_ms) if rec.timestamp_ms is not None else None,
        "key": None,
    }
    if rec.key is not None:
        try:
            meta["key"] = rec.key.decode("utf-8")
        except UnicodeDecodeError:
            meta["key_base64"] = base64.b64encode(rec.key).decode()
    return meta


def _quarantine(rec: KafkaRecord, processed_at: str, reason: str) -> Outcome:
    raw = base64.b64encode(rec.value or b"").decode()
    return Outcome({"_kafka": _kafka_meta(rec), "reason": reason, "raw_base64": raw, "processed_at": processed_at}, True)


def _not_utf8(value: bytes) -> str | None:
    """Why `value` is not UTF-8 text, or None if it is."""
    try:
        value.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"value is not UTF-8 text ({exc.reason} at byte {exc.start})"
    return None


def _payload(rec: KafkaRecord, spec: TopicSpec) -> dict | str:
    """The payload as a dict, or the reason it cannot be one."""
    if rec.value is None:
        return "empty value (tombstone)"
    if spec.fmt == "text":
        try:
            return {"value": rec.value.decode("utf-8").rstrip("\r\n")}
        except UnicodeDecodeError:
            return _not_utf8(rec.value)
    try:
        payload = orjson.loads(rec.value)  # checks UTF-8 itself: decode only to explain a failure
    except orjson.JSONDecodeError as exc:
        return _not_utf8(rec.value) or f"malformed JSON: {exc}"
    if not isinstance(payload, dict):
        return f"JSON value is a {type(payload).__name__}, not an object"
    return payload


def transform(rec: KafkaRecord, spec: TopicSpec, processed_at: str, max_message_bytes: int) -> Outcome:
    """Bronze line for `rec` (payload fields + processed_at + _kafka), or a quarantine line with the reason."""
    size = len(rec.value or b"")
    if size > max_message_bytes:
        return _quarantine(rec, processed_at, f"oversized: {size} bytes > {max_message_bytes}")
    payload = _payload(rec, spec)
    if isinstance(payload, str):
        return _quarantine(rec, processed_at, payload)
    clashes = [name for name in RESERVED if name in payload]
    if clashes:
        return _quarantine(rec, processed_at, f"payload uses reserved field(s) {clashes}")
    if spec.schema:
        problems = violations(payload, spec.schema)
        if problems:
            return _quarantine(rec, processed_at, f"schema {spec.schema}: " + "; ".join(problems))
    created_at = payload.get("created_at")
    line = {**payload, "processed_at": processed_at, "_kafka": _kafka_meta(rec)}
    return Outcome(line, False, created_at if isinstance(created_at, str) else None)
