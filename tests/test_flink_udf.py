"""The Flink functions (infra/flink/udf/) decide like the bronze transform: the same payloads go through both.

The rules live in assets/bronze/transform.py and schemas.py; the Java functions mirror them (the schema reaches
them as JSON rendered from schemas.SCHEMAS). Each payload below, and each of tests/test_poison.py's, is sent to the
real Flink cluster (a batch query through the SQL Gateway) and to the Python transform: both must land it or both
must quarantine it, for the same kind of reason; a landed order must get the same fields and event time.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Annotated

import msgspec
import pytest
from confluent_kafka import Producer

from assets.bronze import schemas
from assets.bronze.topics import TopicSpec
from assets.flink.pipelines import schema_checks
from assets.flink.sql import literal, render
from resources.settings import setting
from tests.support.flink import bronze_outcome, category
from tests.support.poison import CASES as POISON_CASES
from tests.support.poison import MAX_MESSAGE as POISON_MAX_MESSAGE

pytestmark = pytest.mark.flink

MAX_BYTES = POISON_MAX_MESSAGE
GOOD = {
    "event_id": "e1",
    "order_id": "o1",
    "customer_id": "c1",
    "status": "paid",
    "amount": 12.5,
    "currency": "VND",
    "created_at": "2026-01-01T00:00:00.123Z",
}


def _order(**changes: object) -> bytes:
    return json.dumps({**GOOD, **changes}).encode()


def _without(field: str) -> bytes:
    return json.dumps({k: v for k, v in GOOD.items() if k != field}).encode()


TIMESTAMPS = [
    "2026-01-01T00:00:00Z",
    "2026-01-01 00:00:00",
    "2026-01-01T00:00:00.5+07:00",
    "2026-01-01T00:00:00-14:00",
    "2026-01-01T00:00:00.123456Z",
    "9998-12-31T23:59:59.999999Z",
    "0002-01-01T00:00:00Z",
    "20260101T000000",
    "2026-W01-1",
    "2026-001",
    "2026-01-01T00",
    "2026-01-01",
    "2026-01-01t00:00:00z",
    "2026-01-01T24:00:00Z",
    "2026-01-01T00:00:60Z",
    "2026-02-30T00:00:00Z",
    "2026-01-01T00:00:00.1234567Z",
    "2026-01-01T00:00:00+0700",
    "2026-01-01T00:00:00+07",
    "2026-01-01T00:00:00+15:00",
    "2026-01-01T00:00:00,5Z",
    "2026-01-01T00:00:00Z\n",
    "9999-12-31T23:59:59-01:00",
    "0001-01-01T00:00:00+01:00",
    "9998-12-31T23:59:59-01:00",
    "٢٠٢٦-01-01T00:00:00Z",
    "yesterday",
    "",
]
AMOUNTS: list[object] = [
    0,
    -0.0,
    12,
    12.5,
    1e-7,
    999_999_999_999.99,
    -999_999_999_999.99,
    1e12,
    -1e12,
    10**30,
    True,
    None,
    "12",
    [12],
    {"v": 12},
]
ORDER_CASES: list[bytes] = [
    _order(),
    _order(customer_id=None, currency=None),
    _without("customer_id"),
    _without("currency"),
    *(_order(created_at=t) for t in TIMESTAMPS),
    *(_order(amount=a) for a in AMOUNTS),
    *(_without(f) for f in ("event_id", "order_id", "status", "amount", "created_at")),
    _order(status=None),
    _order(status=42),
    _order(event_id=["e"]),
    _order(customer_id=7),
    _order(currency=False),
    _order(created_at=1700000000),
    _order(processed_at="x"),
    _order(_kafka={}),
    _order(status="pa\u0000id"),
    _order(note={"deep": ["x\u0000"]}),
    _order(**{"k\u0000": 1}),
    _order(note="\u0001\t"),
    _order(status="\u00e9\U0001f600"),
    _order(note="x" * 3000),
    _order(nested=[[[[{}]]]]),
    b'{"event_id": "e1", "order_id": "o1", "status": "paid", "status": "shipped", "amount": 1,'
    b' "created_at": "2026-01-01T00:00:00Z"}',
    b'{"event_id": "e1", "order_id": "o1", "status": "paid", "amount": 1, "created_at": "2026-01-01T00:00:00Z",'
    b' "note": 1, "note": 2}',
    b'{"event_id": "e1", "order_id": "o1", "st\\u0061tus": "paid", "status": "x", "amount": 1,'
    b' "created_at": "2026-01-01T00:00:00Z"}',
    _order()[:-1] + b', "amount": NaN}',
    _order()[:-1] + b', "x": Infinity}',
    _order()[:-1] + b', "x": 01}',
    _order() + b" x",
    _order() + b" {}",
    _order() + b"\n",
    b"\xef\xbb\xbf" + _order(),
    b"  " + _order() + b"\r\n",
    _order().replace(b'"paid"', b'"pa\x00id"'),
    _order().replace(b'"paid"', b'"pa\tid"'),
    _order().replace(b'"paid"', b'"\\ud800"'),
    _order().replace(b'"paid"', b'"\\ud83d\\ude00"'),
    b'{"event_id": "x", "order_id": ',
    b"",
    b" ",
    b"[1, 2]",
    b'"order"',
    b"42",
    b"null",
    b"{}",
    b"\xff\xfe",
    '{"status": "caf\u00e9"}'.encode("latin-1"),
    None,
    *(case.value for case in POISON_CASES),
]
SCHEMALESS_CASES: list[bytes] = [
    b'{"a": 1}',
    b"{}",
    b'{"processed_at": 1}',
    b"[1]",
    b'{"a": "\\u0000"}',
    b"{",
    b"\xff",
    b'{"a": 1} 2',
]
TEXT_CASES: list[bytes] = [b"hello", b"a\x00b", b"\xff\xfe", b"x" * 5000, b""]


def _bronze(spec: TopicSpec, payload: bytes) -> tuple[str | None, dict | None]:
    out = bronze_outcome(spec, payload, MAX_BYTES)
    if out.quarantined:
        return out.reason, None
    line = json.loads(out.line)
    return None, {**{k: line.get(k) for k in GOOD}, "event_time": out.event_time}


def _flink_rows(flink, resources: dict, topic: str, query: str, payloads: list[bytes | None]) -> list[list]:
    """`query` with {source} a table of the payloads (i, p), read back from Kafka as the pipelines read them, run
    as one batch query; rows ordered by i."""
    producer = Producer({"bootstrap.servers": resources["kafka"].bootstrap_servers})
    for i, payload in enumerate(payloads):
        producer.produce(topic, payload, str(i).encode())
    assert producer.flush(60) == 0
    session = flink.open_session(
        {"execution.runtime-mode": "batch", "table.local-time-zone": "UTC", "parallelism.default": "1"}
    )
    try:
        for statement in render("_functions", {"udf_jar": setting("FLINK_UDF_JAR")}):
            flink.execute(session, statement)
        bootstrap = literal(resources["kafka"].bootstrap_servers)
        flink.execute(
            session,
            f"""CREATE TEMPORARY TABLE payloads (k BYTES, p BYTES) WITH ('connector' = 'kafka',
            'topic' = {literal(topic)}, 'properties.bootstrap.servers' = {bootstrap},
            'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset',
            'key.format' = 'raw', 'key.fields' = 'k', 'value.format' = 'raw', 'value.fields-include' = 'EXCEPT_KEY')""",
        )
        rows = flink.execute(
            session, query.format(source="(SELECT CAST(CAST(k AS STRING) AS INT) AS i, p FROM payloads) AS t")
        ).rows
    finally:
        flink.close_session(session)
    return sorted(rows, key=lambda row: row[0])


def _flink_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc) if text else None


def test_orders_are_landed_or_quarantined_by_both_engines_alike(flink, resources, fresh_topic):
    topic = TopicSpec("orders", "json", "orders")
    spec = literal(schema_checks("orders")).replace("{", "{{").replace("}", "}}")
    query = (
        "SELECT i, c.o.reason, c.o.event_id, c.o.order_id, c.o.customer_id, c.o.status, c.o.amount, "
        "c.o.currency, c.o.created_at, CAST(c.o.event_time AS STRING), c.v.reason, CAST(c.v.event_time AS STRING)"
        f" FROM (SELECT i, lakehouse_order(p, {spec}, {MAX_BYTES}) AS o, "
        f"lakehouse_order_validity(p, {spec}, {MAX_BYTES}) AS v FROM {{source}}) AS c"
    )
    rows = _flink_rows(flink, resources, fresh_topic, query, ORDER_CASES)
    assert len(rows) == len(ORDER_CASES)
    disagreements, landed = [], 0
    for payload, (_, reason, *fields, flink_time, validity_reason, validity_time) in zip(
        ORDER_CASES, rows, strict=False
    ):
        assert (validity_reason, validity_time) == (reason, flink_time), "lakehouse_order_validity decides alike"
        bronze_reason, bronze_line = _bronze(topic, payload)
        if category(reason) != category(bronze_reason):
            disagreements.append(((payload or b"")[:120], bronze_reason, reason))
        elif bronze_line is not None:
            landed += 1
            flink_line = dict(zip(GOOD, fields, strict=False))
            event_time = bronze_line.pop("event_time")
            assert flink_line == {k: v if k != "amount" else float(v) for k, v in bronze_line.items()}, payload
            flink_event_time = _flink_time(flink_time)
            assert flink_event_time == event_time.replace(microsecond=event_time.microsecond // 1000 * 1000), payload
    assert not disagreements, "\n".join(map(repr, disagreements))
    assert 10 < landed < len(ORDER_CASES) - 30, "the cases should exercise both outcomes"


@pytest.mark.parametrize("fmt, cases", [("json", SCHEMALESS_CASES), ("text", TEXT_CASES)])
def test_topics_without_a_schema_are_checked_like_bronze(flink, resources, fresh_topic, fmt, cases):
    spec = TopicSpec("events", fmt)
    rows = _flink_rows(
        flink,
        resources,
        fresh_topic,
        f"SELECT i, lakehouse_payload_reason(p, {literal(fmt)}, {MAX_BYTES}) FROM {{source}}",
        cases,
    )
    got = [(payload, category(row[1])) for payload, row in zip(cases, rows, strict=False)]
    assert got == [(payload, category(bronze_outcome(spec, payload, MAX_BYTES).reason)) for payload in cases]


class Strict(schemas.Reserved, kw_only=True):
    """A schema with a rule the Flink functions do not check."""

    code: Annotated[str, msgspec.Meta(pattern=r"^[a-z]+\Z")]
    size: Annotated[float, msgspec.Meta(multiple_of=2)]


def test_a_schema_rule_the_functions_cannot_check_fails_before_submission(monkeypatch):
    monkeypatch.setitem(schemas.SCHEMAS, "strict", schemas.Schema(Strict))
    with pytest.raises(ValueError, match="do not check multiple_of=2 of field size"):
        schema_checks("strict")
