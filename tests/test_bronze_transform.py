"""The stateless bronze transform: payload + processed_at + _kafka, or quarantine with a reason."""
from __future__ import annotations

import base64
import json

from assets.bronze.topics import TopicSpec, parse_topics
from assets.bronze.transform import KafkaRecord, transform

ORDERS = TopicSpec("orders", "json", "orders")
GOOD = {"event_id": "e1", "order_id": "o1", "status": "paid", "amount": 12.5, "created_at": "2026-01-01T00:00:00Z"}


def _rec(value: bytes | None, key: bytes | None = b"o1") -> KafkaRecord:
    return KafkaRecord("orders", 2, 41, 1767225600123, key, value)


def test_valid_order_keeps_payload_and_gains_processed_at_and_kafka_coordinates():
    out = transform(_rec(json.dumps(GOOD).encode()), ORDERS, "2026-01-01T00:00:05.000Z", 1 << 20)
    assert not out.quarantined
    assert {k: out.line[k] for k in GOOD} == GOOD
    assert out.line["processed_at"] == "2026-01-01T00:00:05.000Z"
    assert out.line["_kafka"] == {"topic": "orders", "partition": 2, "offset": 41,
                                  "timestamp": "2026-01-01T00:00:00.123Z", "key": "o1"}
    assert out.event_time == "2026-01-01T00:00:00Z"


def test_bad_records_are_quarantined_with_raw_bytes_and_reason():
    cases = {
        b'{"event_id": "e1", "order_': "malformed JSON",
        json.dumps({**GOOD, "amount": "12,5"}).encode(): "field 'amount' must be a number",
        json.dumps({k: v for k, v in GOOD.items() if k != "status"}).encode(): "missing field 'status'",
        json.dumps({**GOOD, "created_at": 1700000000}).encode(): "field 'created_at' must be an ISO-8601",
        json.dumps({**GOOD, "created_at": "yesterday"}).encode(): "field 'created_at' must be an ISO-8601",
        json.dumps({**GOOD, "amount": True}).encode(): "field 'amount' must be a number",
        b"[1, 2]": "not an object",
        b"\xff\xfe": "not UTF-8",
        json.dumps({**GOOD, "_kafka": 1}).encode(): "reserved",
    }
    for raw, reason in cases.items():
        out = transform(_rec(raw), ORDERS, "t", 1 << 20)
        assert out.quarantined, raw
        assert reason in out.line["reason"], (raw, out.line["reason"])
        assert base64.b64decode(out.line["raw_base64"]) == raw
        assert out.line["_kafka"]["offset"] == 41


def test_oversized_and_empty_records_are_quarantined():
    big = transform(_rec(json.dumps({**GOOD, "pad": "x" * 2000}).encode()), ORDERS, "t", 1000)
    assert big.quarantined and big.line["reason"].startswith("oversized")
    assert transform(_rec(None), ORDERS, "t", 1000).quarantined


def test_text_topics_keep_the_line_as_value():
    out = transform(_rec(b"hello from the console producer\n", key=None), TopicSpec("lab-events", "text"), "t", 1000)
    assert not out.quarantined
    assert out.line["value"] == "hello from the console producer"
    assert out.line["_kafka"]["key"] is None


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
