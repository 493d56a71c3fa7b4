"""The stateless bronze transform: payload + processed_at + _kafka, or quarantine with a reason."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone

import msgspec

from assets.bronze.topics import TopicSpec, parse_topics
from assets.bronze.transform import KafkaRecord, Transform, transform

ORDERS = TopicSpec("orders", "json", "orders")
GOOD = {"event_id": "e1", "order_id": "o1", "status": "paid", "amount": 12.5, "created_at": "2026-01-01T00:00:00Z"}


def _rec(value: bytes | None, key: bytes | None = b"o1", timestamp_ms: int | None = 1767225600123) -> KafkaRecord:
    return KafkaRecord("orders", 2, 41, timestamp_ms, key, value)


def test_valid_order_keeps_payload_and_gains_processed_at_and_kafka_coordinates():
    out = transform(_rec(json.dumps(GOOD).encode()), ORDERS, "2026-01-01T00:00:05.000Z", 1 << 20)
    assert not out.quarantined and out.line.endswith(b"}\n") and out.line.count(b"\n") == 1
    line = json.loads(out.line)
    assert {k: line[k] for k in GOOD} == GOOD
    assert line["processed_at"] == "2026-01-01T00:00:05.000Z"
    assert line["_kafka"] == {
        "topic": "orders",
        "partition": 2,
        "offset": 41,
        "timestamp": "2026-01-01T00:00:00.123Z",
        "key": "o1",
    }
    assert out.event_time == datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_a_compact_payload_is_spliced_byte_for_byte_as_a_reserialization_would_write_it():
    """The raw bytes are kept: for the generator's compact JSON the line equals the old dict round trip."""
    raw = msgspec.json.encode({**GOOD, "customer_id": "c-1", "currency": "VND"})
    out = transform(_rec(raw), ORDERS, "2026-01-01T00:00:05.000Z", 1 << 20)
    expected = msgspec.json.encode(
        {
            **json.loads(raw),
            "processed_at": "2026-01-01T00:00:05.000Z",
            "_kafka": {
                "topic": "orders",
                "partition": 2,
                "offset": 41,
                "timestamp": "2026-01-01T00:00:00.123Z",
                "key": "o1",
            },
        }
    )
    assert out.line == expected + b"\n"


def test_newlines_empty_objects_and_odd_keys_still_make_one_valid_line():
    schemaless = TopicSpec("cdc", "json")
    for raw in (b'{\r\n "a": 1\n}\n', b" {} ", b"{\n}"):
        out = transform(_rec(raw, key=None), schemaless, "t", 1 << 20)
        assert not out.quarantined and out.line.count(b"\n") == 1, raw
        assert json.loads(out.line)["_kafka"]["key"] is None
    out = transform(_rec(b'{"a": 1}', key=b"\xff\x00"), schemaless, "t", 1 << 20)
    assert json.loads(out.line)["_kafka"]["key_base64"] == base64.b64encode(b"\xff\x00").decode()


def test_kafka_timestamps_no_reader_can_render_are_left_out():
    for ts in (None, 253_402_300_800_000):
        out = transform(_rec(json.dumps(GOOD).encode(), timestamp_ms=ts), ORDERS, "2026-03-04T00:00:00.000Z", 1 << 20)
        assert json.loads(out.line)["_kafka"]["timestamp"] is None
    date, *_ = Transform(ORDERS, "2026-03-04T00:00:00.000Z", 1 << 20)(0, 0, None, None, json.dumps(GOOD).encode())
    assert date == "2026-03-04", "without a Kafka timestamp the object is dated by processed_at"


def test_bad_records_are_quarantined_with_raw_bytes_and_reason():
    cases = {
        b'{"event_id": "e1", "order_': "malformed JSON",
        json.dumps({**GOOD, "amount": "12,5"}).encode(): "schema orders: field 'amount' must be a number",
        json.dumps({k: v for k, v in GOOD.items() if k != "status"}).encode(): "schema orders: missing field 'status'",
        json.dumps({**GOOD, "status": None}).encode(): "field 'status' must be a string, got None",
        json.dumps({**GOOD, "created_at": 1700000000}).encode(): "field 'created_at' must be an ISO-8601",
        json.dumps({**GOOD, "created_at": "yesterday"}).encode(): "field 'created_at' must be an ISO-8601",
        json.dumps({**GOOD, "amount": True}).encode(): "field 'amount' must be a number",
        json.dumps({**GOOD, "customer_id": 7}).encode(): "field 'customer_id' must be a string or null",
        b"[1, 2]": "JSON value is not an object (Expected `object`, got `array`)",
        b"\xff\xfe": "not UTF-8",
        json.dumps({**GOOD, "_kafka": 1}).encode(): "reserved field(s) ['_kafka']",
        json.dumps({**GOOD, "processed_at": "x"}).encode(): "reserved field(s) ['processed_at']",
    }
    for raw, reason in cases.items():
        out = transform(_rec(raw), ORDERS, "t", 1 << 20)
        assert out.quarantined, raw
        assert reason in out.reason, (raw, out.reason)
        line = json.loads(out.line)
        assert line["reason"] == out.reason
        assert base64.b64decode(line["raw_base64"]) == raw
        assert line["_kafka"]["offset"] == 41 and line["processed_at"] == "t"


def test_oversized_and_empty_records_are_quarantined():
    big = transform(_rec(json.dumps({**GOOD, "pad": "x" * 2000}).encode()), ORDERS, "t", 1000)
    assert big.quarantined and big.reason.startswith("oversized")
    assert transform(_rec(None), ORDERS, "t", 1000).reason == "empty value (tombstone)"


def test_text_topics_keep_the_line_as_value():
    out = transform(_rec(b"hello from the console producer\n", key=None), TopicSpec("lab-events", "text"), "t", 1000)
    assert not out.quarantined
    assert json.loads(out.line)["value"] == "hello from the console producer"
    assert json.loads(out.line)["_kafka"]["key"] is None
    assert transform(_rec(b"a\x00b"), TopicSpec("lab-events", "text"), "t", 1000).reason.startswith("NUL character")


def test_topics_come_from_configuration_with_clear_errors():
    specs = parse_topics("lab-events:text, orders:json:orders, dbserver1.app.orders:json")
    assert [s.name for s in specs] == ["lab_events", "orders", "dbserver1_app_orders"]
    for bad, words in [("x:xml", "format"), ("x:json:nope", "unknown schema"), ("x:text:orders", "needs the json")]:
        try:
            parse_topics(bad)
        except ValueError as exc:
            assert words in str(exc)
        else:
            raise AssertionError(bad)


def test_object_names_carry_the_topic_id_in_a_form_that_makes_no_folder():
    from assets.bronze.ingest import PREFIXES
    from assets.bronze.writer import ObjectWriter

    writer = ObjectWriter("orders", PREFIXES, topic_id="2/AC7n1x+Q9s")
    for offset in (5, 9):
        writer.add("bronze", 0, "2026-01-01", offset, b"{}\n")
    [(layer, partition, dt)] = writer.groups
    key = writer.object_key(layer, partition, dt, writer.groups[(layer, partition, dt)])
    assert key == "bronze/stream/orders/dt=2026-01-01/orders-2_AC7n1x-p0-5-9.jsonl.zst"
    assert (
        ObjectWriter("orders", PREFIXES).object_key(layer, partition, dt, writer.groups[(layer, partition, dt)])
        == "bronze/stream/orders/dt=2026-01-01/orders-p0-5-9.jsonl.zst"
    )


def test_a_type_error_before_broken_json_is_quarantined_not_raised():
    for raw in (b'{"event_id": 1, "x": ', b'{"status": 1, "x": [}'):
        out = transform(_rec(raw), ORDERS, "t", 1 << 20)
        assert out.quarantined and "malformed JSON" in out.reason, (raw, out.reason)
    schemaless = TopicSpec("t", "json")
    assert transform(_rec(b"[1, 2"), schemaless, "t", 1 << 20).quarantined
    empty = transform(_rec(b"{}"), schemaless, "t", 1 << 20)
    assert not empty.quarantined and json.loads(empty.line)["processed_at"] == "t"


CHANGES = TopicSpec("dbserver1.app.orders", "json", "debezium")
CHANGE = {
    "before": None,
    "after": {"order_id": "o1", "amount": "1.50", "note": "a column added later"},
    "source": {"version": "3.6.1.Final", "lsn": 36598528, "txId": 3408, "ts_ms": 1795637093789},
    "op": "c",
    "ts_ms": 1795637094194,
    "transaction": None,
}


def test_a_debezium_topic_lands_changes_whole_and_tombstones_as_such():
    out = transform(_rec(json.dumps(CHANGE).encode(), key=b'{"order_id":"o1"}'), CHANGES, "t", 1 << 20)
    assert not out.quarantined and {k: v for k, v in json.loads(out.line).items() if k in CHANGE} == CHANGE
    tombstone = transform(_rec(None, key=b'{"order_id":"o1"}'), CHANGES, "t", 1 << 20)
    assert not tombstone.quarantined
    line = json.loads(tombstone.line)
    assert line["tombstone"] is True and line["_kafka"]["key"] == '{"order_id":"o1"}'
    assert transform(_rec(None), ORDERS, "t", 1 << 20).reason == "empty value (tombstone)"  # not expected there


def test_a_malformed_change_envelope_is_quarantined_with_its_reason():
    def reason(**change: object) -> str | None:
        return transform(_rec(json.dumps({**CHANGE, **change}).encode()), CHANGES, "t", 1 << 20).reason

    assert reason(op="x") == "schema debezium: field 'op' must be one of 'r', 'c', 'u', 'd', got 'x'"
    assert reason(after=None) == "schema debezium: op 'c' needs the row in 'after'"
    assert reason(op="d") == "schema debezium: op 'd' needs the deleted row in 'before'"
    assert reason(source={"txId": 1, "ts_ms": 2}) == "schema debezium: missing field 'source.lsn'"
    assert reason(source={**CHANGE["source"], "lsn": "0/22E7A10"}) == (
        "schema debezium: field 'source.lsn' must be an integer (the change's WAL position), got '0/22E7A10'"
    )
    assert reason(after=[1]).startswith("schema debezium: field 'after' must be an object")
