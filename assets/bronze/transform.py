"""The stateless bronze transform: one Kafka record in, one JSON line (or one quarantine line) out.

A valid JSON payload is never re-serialized: msgspec checks its raw bytes against the topic's schema, and
`processed_at` and `_kafka` are spliced in before its closing brace. Per record there is no dict, no dataclass
and one parse of the event time; the rare payloads that need a closer look (an escape sequence, a column name
seen twice) take a slow path that decides exactly.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache

import msgspec
from msgspec import UNSET

from assets.bronze.schemas import SCHEMALESS, SCHEMAS, event_time
from assets.bronze.topics import TopicSpec

RESERVED = ("processed_at", "_kafka")
_json = msgspec.json.encode
MAX_TIMESTAMP_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z: a later Kafka timestamp cannot be rendered
# DuckDB's read_json refuses a line longer than its maximum_object_size (16 MiB): leave room for what bronze adds.
MAX_LINE_BYTES = 16 * 1024 * 1024 - 64 * 1024


@dataclass(frozen=True)
class KafkaRecord:
    """The parts of a Kafka message the transform needs (for single records; batches pass them directly)."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True)
class Outcome:
    """A transformed record: its JSON line (bronze, or quarantine when `reason` says why)."""

    line: bytes
    reason: str | None
    event_time: datetime | None = None

    @property
    def quarantined(self) -> bool:
        return self.reason is not None


def iso_ms(epoch_ms: int) -> str:
    """Epoch milliseconds as an ISO-8601 UTC string (2026-01-01T00:00:00.123Z)."""
    seconds, millis = divmod(epoch_ms, 1000)
    return f"{_iso_seconds(seconds)}.{millis:03d}Z"


@lru_cache(maxsize=4096)
def _iso_seconds(epoch_seconds: int) -> str:
    return datetime.fromtimestamp(epoch_seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


@lru_cache(maxsize=4096)
def _second(epoch_seconds: int) -> tuple[bytes, str]:
    """The JSON text '"2026-01-01T00:00:00.' (milliseconds and 'Z"' follow) and the date, for one second."""
    text = _iso_seconds(epoch_seconds)
    return b'"' + text.encode() + b".", text[:10]


_MILLIS = tuple(b'%03dZ"' % n for n in range(1000))  # the end of a Kafka timestamp's JSON text, by millisecond


class _Members(list):
    """A JSON object's members in order, duplicates kept (json.loads' object_pairs_hook)."""


def _has_nul(node) -> bool:
    """Whether a NUL character is in any string of a decoded JSON value (pairs kept as lists of tuples)."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return False


class Transform:
    """The transform of one batch of one topic: what is the same for every record is prepared once."""

    def __init__(self, spec: TopicSpec, processed_at: str, max_message_bytes: int) -> None:
        self.spec = spec
        self.text = spec.fmt == "text"
        self.schema = SCHEMAS[spec.schema] if spec.schema else SCHEMALESS
        self.decode = msgspec.json.Decoder(self.schema.struct).decode
        self.encode = msgspec.json.Encoder().encode
        self.tombstones = self.schema.tombstones
        self.columns = self.schema.columns
        self.quoted_columns = tuple(_json(c) for c in self.columns)
        self.event_field = self.schema.event_time
        self.limit = min(max_message_bytes, MAX_LINE_BYTES)
        self.processed_date = processed_at[:10]
        self.processed = b'"processed_at":' + _json(processed_at)
        # a line: the payload's members (%b), then bronze's own, %-formatted with partition, offset, timestamp, key
        own = (self.processed + b',"_kafka":{"topic":' + _json(spec.topic)).replace(b"%", b"%%") + (
            b',"partition":%d,"offset":%d,"timestamp":%b,"key":%b}}\n'
        )
        self.line = b"%b," + own  # after the last member of a non-empty object
        self.first_line = b"%b" + own  # in an empty object
        self.last_ms: int | None = -1
        self.last_stamp = (b"null", self.processed_date)

    def __call__(
        self, partition: int, offset: int, timestamp_ms: int | None, key: bytes | None, value: bytes | None
    ) -> tuple[str, bytes, datetime | None, str | None]:
        """(date, line, event time, None) for bronze, or (date, quarantine line, None, reason).

        The date (of the Kafka timestamp, else of processed_at) names the object the line goes to. Written as
        one function with few calls because it runs for every record."""
        if timestamp_ms == self.last_ms:  # records produced together share a millisecond
            stamp, date = self.last_stamp
        elif timestamp_ms is None or not 0 <= timestamp_ms <= MAX_TIMESTAMP_MS:
            stamp, date = b"null", self.processed_date
        else:
            prefix, date = _second(timestamp_ms // 1000)
            stamp = prefix + _MILLIS[timestamp_ms % 1000]
            self.last_ms, self.last_stamp = timestamp_ms, (stamp, date)
        if key is None:
            key_json = b"null"
        else:
            try:
                key_json = _json(key.decode())
            except UnicodeDecodeError:
                key_json = b'null,"key_base64":"' + base64.b64encode(key) + b'"'

        if value is None:
            if self.tombstones:  # expected (a delete's tombstone): landed as such, the key says which row
                return date, self.line % (b'{"tombstone":true', partition, offset, stamp, key_json), None, None
            return self._quarantine(date, partition, offset, stamp, key_json, b"", "empty value (tombstone)")
        if len(value) > self.limit:
            return self._quarantine(
                date, partition, offset, stamp, key_json, value, f"oversized: {len(value)} bytes > {self.limit}"
            )
        if not value.isascii():
            try:
                value.decode()
            except UnicodeDecodeError as exc:
                return self._quarantine(
                    date,
                    partition,
                    offset,
                    stamp,
                    key_json,
                    value,
                    f"value is not UTF-8 text ({exc.reason} at byte {exc.start})",
                )
        if self.text:
            if b"\x00" in value:
                return self._quarantine(
                    date,
                    partition,
                    offset,
                    stamp,
                    key_json,
                    value,
                    "NUL character: the line holds \\u0000, which Postgres text cannot store",
                )
            body = b'{"value":' + _json(value.decode().rstrip("\r\n"))
            return date, self.line % (body, partition, offset, stamp, key_json), None, None
        try:
            payload = self.decode(value)
        except msgspec.ValidationError as exc:  # a duplicate or a NUL explains more than the value msgspec saw
            reason = self._inspect(value) or self._explain(value, str(exc))
            return self._quarantine(date, partition, offset, stamp, key_json, value, reason)
        except (msgspec.DecodeError, RecursionError) as exc:
            return self._quarantine(date, partition, offset, stamp, key_json, value, f"malformed JSON: {exc}")
        if payload.processed_at is not UNSET or payload.kafka is not UNSET:
            used = [n for n, v in zip(RESERVED, (payload.processed_at, payload.kafka), strict=False) if v is not UNSET]
            return self._quarantine(
                date, partition, offset, stamp, key_json, value, f"payload uses reserved field(s) {used}"
            )
        line = self.line
        escaped = value.rfind(b"\\") >= 0
        if not escaped and self.encode(payload) == value:
            body = value[:-1]  # msgspec's own compact encoding: only known members, no escape, no newline
        else:
            if escaped or (self.quoted_columns and max(map(value.count, self.quoted_columns)) > 1):
                reason = self._inspect(value)
                if reason is not None:
                    return self._quarantine(date, partition, offset, stamp, key_json, value, reason)
            body = value.rstrip()[:-1]  # the object without its closing brace
            if b"\n" in body or b"\r" in body:  # JSON whitespace (a raw newline cannot be inside a string)
                body = body.replace(b"\n", b" ").replace(b"\r", b" ")
        if not self.columns and body.rstrip().endswith(b"{"):  # {} (only a schema-less payload is empty)
            line = self.first_line
        when = None
        if self.event_field:
            text = getattr(payload, self.event_field)
            try:
                when = event_time(text)
            except ValueError as exc:
                return self._quarantine(
                    date,
                    partition,
                    offset,
                    stamp,
                    key_json,
                    value,
                    f"schema {self.spec.schema}: field {self.event_field!r} {exc}, got {text!r:.60}",
                )
        return date, line % (body, partition, offset, stamp, key_json), when, None

    def _quarantine(
        self, date: str, partition: int, offset: int, stamp: bytes, key_json: bytes, value: bytes, reason: str
    ) -> tuple[str, bytes, None, str]:
        meta = b'{"topic":%b,"partition":%d,"offset":%d,"timestamp":%b,"key":%b}' % (
            _json(self.spec.topic),
            partition,
            offset,
            stamp,
            key_json,
        )
        line = (
            b'{"_kafka":'
            + meta
            + b',"reason":'
            + _json(reason)
            + b',"raw_base64":"'
            + base64.b64encode(value)
            + b'",'
            + self.processed
            + b"}\n"
        )
        return date, line, None, reason

    def _explain(self, value: bytes, message: str) -> str:
        """What msgspec objected to, in the schema's words."""
        if message.startswith("Object missing required field"):
            parent = message.split("`$.", 1)[1].rstrip("`") + "." if "`$." in message else ""
            return f"schema {self.spec.schema}: missing field {parent + message.split('`')[1]!r}"
        if "`$." not in message:
            if message.startswith("Expected"):
                return f"JSON value is not an object ({message})"
            return f"schema {self.spec.schema}: {message}"  # the struct's own check (__post_init__)
        column = message.rsplit("`$.", 1)[1].rstrip("`")
        try:
            got = json.loads(value)
            for part in column.split("."):
                got = got.get(part)
        except (AttributeError, RecursionError, ValueError):  # too deep, or broken after the field msgspec
            got = "?"  # stopped at
        return f"schema {self.spec.schema}: field {column!r} must be {self.schema.describe(column)}, got {got!r:.60}"

    def _inspect(self, value: bytes) -> str | None:
        """The exact checks that the fast path screens for: a column given twice (DuckDB refuses the line,
        other readers pick different values) and a NUL character anywhere (Postgres text cannot store it)."""
        try:
            pairs = json.loads(value, object_pairs_hook=_Members)
        except RecursionError:
            return "malformed JSON: nested too deeply"
        except ValueError as exc:  # msgspec stopped at a type error before the syntax error further on
            return f"malformed JSON: {exc}"
        if not isinstance(pairs, _Members):
            return None  # not an object: msgspec says so
        names = [name for name, _ in pairs if name in self.columns]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            return f"duplicate field: {twice} appear more than once, so readers would disagree on the value"
        for name, item in pairs:
            if _has_nul(name) or _has_nul(item):
                return f"NUL character: field {name!r} holds \\u0000, which Postgres text cannot store"
        return None


def transform(rec: KafkaRecord, spec: TopicSpec, processed_at: str, max_message_bytes: int) -> Outcome:
    """Transform one record (tools and tests); a batch prepares one Transform and calls it per record."""
    _, line, when, reason = Transform(spec, processed_at, max_message_bytes)(
        rec.partition, rec.offset, rec.timestamp_ms, rec.key, rec.value
    )
    return Outcome(line, reason, when)
