"""The poison table (issue 10, point 2): records at every edge of the orders schema, each with what bronze must
decide — land (LANDS) or quarantine with a reason containing the given fragment. Shared by tests/test_poison.py
(bronze, then DuckDB and Postgres) and tests/test_flink_udf.py (the same decisions in Flink's functions)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from assets.bronze.topics import TopicSpec

ORDERS = TopicSpec("orders", "json", "orders")
MAX_MESSAGE = 64 * 1024  # the poison topic's BRONZE_MAX_MESSAGE_BYTES: an oversized record stays small
LANDS = None  # the decision of a case that must reach Postgres


@dataclass(frozen=True)
class Case:
    """One record to produce: what bronze must decide (LANDS, or a fragment of the quarantine reason)."""

    name: str
    value: bytes | None
    reason: str | None
    key: bytes | None = b"poison"
    timestamp_ms: int | None = None


def order(name: str, extra: str = "", **members: str | None) -> bytes:
    """An order whose members are raw JSON text (None drops one), `extra` appended verbatim."""
    fields = {
        "event_id": json.dumps(f"poison-{name}"),
        "order_id": json.dumps(f"order-{name}"),
        "customer_id": '"c-1"',
        "status": '"paid"',
        "amount": "12.5",
        "currency": '"VND"',
        "created_at": '"2026-01-01T00:00:00Z"',
        **members,
    }
    body = ",".join(f'"{k}":{v}' for k, v in fields.items() if v is not None)
    return ("{" + body + extra + "}").encode()


def ts(name: str, value: str, reason: str | None) -> Case:
    return Case(f"ts {name}", order(f"ts-{name}", created_at=json.dumps(value)), reason)


def amount(name: str, raw: str, reason: str | None) -> Case:
    return Case(f"amount {name}", order(f"amount-{name}", amount=raw), reason)


GRAMMAR = "must be an ISO-8601 timestamp"
RANGE = "is outside 0002-01-01 .. 9998-12-31 (UTC)"
NOT_REAL = "is no real date and time"
DECIMAL = "field 'amount' must be a number from -999999999999.99 to 999999999999.99"
MALFORMED = "malformed JSON"

CASES = [
    # --- timestamps: the grammar all readers share, then a real date, then the range after the zone shift
    ts("Z", "2026-01-01T00:00:00Z", LANDS),
    ts("+00:00", "2026-01-01T00:00:00+00:00", LANDS),
    ts("-00:00", "2026-01-01T00:00:00-00:00", LANDS),
    ts("naive is UTC", "2026-01-01T00:00:00", LANDS),
    ts("space separator", "2026-01-01 00:00:00Z", LANDS),
    ts("6 fraction digits", "2026-01-01T00:00:00.123456Z", LANDS),
    ts("+14:00", "2026-01-01T00:00:00.5+14:00", LANDS),
    ts("-12:00", "2026-01-01T00:00:00-12:00", LANDS),
    ts("before 1970", "1969-12-31T23:59:59.5Z", LANDS),
    ts("earliest", "0002-01-01T14:00:00+14:00", LANDS),
    ts("latest", "9998-12-31T23:59:59.999999Z", LANDS),
    ts("basic", "20260101T000000", GRAMMAR),
    ts("basic Z", "20260101T000000Z", GRAMMAR),
    ts("week date", "2026-W01-1", GRAMMAR),
    ts("week date time", "2026-W01-1T00:00:00", GRAMMAR),
    ts("ordinal date", "2026-001", GRAMMAR),
    ts("ordinal date time", "2026-001T00:00:00", GRAMMAR),
    ts("hour only", "2026-01-01T00", GRAMMAR),
    ts("no seconds", "2026-01-01T00:00", GRAMMAR),
    ts("no seconds Z", "2026-01-01T00:00Z", GRAMMAR),
    ts("date only", "2026-01-01", GRAMMAR),
    ts("date Z", "2026-01-01Z", GRAMMAR),
    ts("lowercase t z", "2026-01-01t00:00:00z", GRAMMAR),
    ts("comma decimal", "2026-01-01T00:00:00,5Z", GRAMMAR),
    ts("7 fraction digits", "2026-01-01T00:00:00.1234567Z", GRAMMAR),
    ts("9 fraction digits", "2026-01-01T00:00:00.123456789Z", GRAMMAR),
    ts("empty fraction", "2026-01-01T00:00:00.Z", GRAMMAR),
    ts("offset +hhmm", "2026-01-01T00:00:00+0700", GRAMMAR),
    ts("offset +hh", "2026-01-01T00:00:00+07", GRAMMAR),
    ts("offset with seconds", "2026-01-01T00:00:00+07:00:30", GRAMMAR),
    ts("offset +15:00", "2026-01-01T00:00:00+15:00", GRAMMAR),
    ts("offset +24:00", "2026-01-01T00:00:00+24:00", GRAMMAR),
    ts("space before offset", "2026-01-01T00:00:00 +07:00", GRAMMAR),
    ts("zone name", "2026-01-01T00:00:00 UTC", GRAMMAR),
    ts("bracketed zone", "2026-01-01T00:00:00Z[UTC]", GRAMMAR),
    ts("12-hour clock", "2026-01-01T12:00:00PM", GRAMMAR),
    ts("one-digit month", "2026-1-1T00:00:00Z", GRAMMAR),
    ts("leading space", " 2026-01-01T00:00:00Z", GRAMMAR),
    ts("trailing space", "2026-01-01T00:00:00Z ", GRAMMAR),
    ts("trailing newline", "2026-01-01T00:00:00Z\n", GRAMMAR),
    ts("fullwidth digits", "\uff12\uff10\uff12\uff16-01-01T00:00:00Z", GRAMMAR),
    ts("year 10000", "10000-01-01T00:00:00Z", GRAMMAR),
    ts("signed year", "+2026-01-01T00:00:00Z", GRAMMAR),
    ts("infinity", "infinity", GRAMMAR),
    ts("epoch", "epoch", GRAMMAR),
    ts("now", "now", GRAMMAR),
    ts("empty", "", GRAMMAR),
    ts("24:00", "2026-01-01T24:00:00Z", NOT_REAL),
    ts("leap second", "2026-12-31T23:59:60Z", NOT_REAL),
    ts("February 30", "2026-02-30T00:00:00Z", NOT_REAL),
    ts("month 13", "2026-13-01T00:00:00Z", NOT_REAL),
    ts("year 0", "0000-01-01T00:00:00Z", NOT_REAL),
    ts("past DuckDB-Python range after shift", "9999-12-31T23:59:59-01:00", RANGE),
    ts("far future", "9999-12-31T23:59:59Z", RANGE),
    ts("far past", "0001-01-01T00:00:00Z", RANGE),
    ts("shifted into year 1", "0002-01-01T00:00:00+01:00", RANGE),
    Case("ts as a number", order("ts-number", created_at="1700000000"), GRAMMAR),
    Case("ts null", order("ts-null", created_at="null"), GRAMMAR),
    # --- amounts: what DECIMAL(14, 2) holds after DuckDB's DOUBLE -> DECIMAL cast
    amount("decimal", "12.5", LANDS),
    amount("integer", "5", LANDS),
    amount("zero", "0", LANDS),
    amount("negative zero", "-0.0", LANDS),
    amount("largest", "999999999999.99", LANDS),
    amount("smallest", "-999999999999.99", LANDS),
    amount("tiny", "1e-300", LANDS),
    amount("exponent", "1E+2", LANDS),
    amount("long literal", "1." + "0" * 300 + "1", LANDS),
    amount("1e12", "1e12", DECIMAL),
    amount("rounds past the range", "999999999999.995", DECIMAL),
    amount("-1e12", "-1e12", DECIMAL),
    amount("30 digits", "123456789012345678901234567890", DECIMAL),
    amount("1e400", "1e400", DECIMAL),
    amount("NaN", "NaN", MALFORMED),
    amount("Infinity", "Infinity", MALFORMED),
    amount("-Infinity", "-Infinity", MALFORMED),
    amount("nan lowercase", "nan", MALFORMED),
    amount("hex", "0x10", MALFORMED),
    amount("leading plus", "+1", MALFORMED),
    amount("leading zero", "01", MALFORMED),
    amount("trailing dot", "1.", MALFORMED),
    amount("string", '"12.5"', DECIMAL),
    amount("string NaN", '"NaN"', DECIMAL),
    amount("boolean", "true", DECIMAL),
    amount("null", "null", DECIMAL),
    # --- strings: NUL (Postgres text refuses it) anywhere, other control characters flow through
    Case("NUL in customer_id", order("nul-customer", customer_id='"a\\u0000b"'), "NUL character: field 'customer_id'"),
    Case("NUL in status", order("nul-status", status='"\\u0000"'), "NUL character: field 'status'"),
    Case("NUL in an unread field", order("nul-extra", extra=',"note":"x\\u0000"'), "NUL character: field 'note'"),
    Case("NUL in a key", order("nul-key", extra=',"a\\u0000":1'), "NUL character"),
    Case("NUL nested", order("nul-nested", extra=',"x":{"y":["\\u0000"]}'), "NUL character: field 'x'"),
    Case("escaped backslash then u0000 text", order("not-nul", customer_id='"a\\\\u0000"'), LANDS),
    Case("escaped control characters", order("ctrl-escaped", customer_id='"a\\u0001\\u001f\\u007f\\t\\n"'), LANDS),
    Case("raw DEL byte", order("del-raw", customer_id='"a\x7fb"'), LANDS),
    Case("raw control character", order("ctrl-raw", customer_id='"a\x01b"'), MALFORMED),
    Case("raw tab in a string", order("tab-raw", customer_id='"a\tb"'), MALFORMED),
    Case("lone high surrogate", order("surrogate-high", customer_id='"\\ud800"'), MALFORMED),
    Case("lone low surrogate", order("surrogate-low", customer_id='"x\\udc00"'), MALFORMED),
    Case("lone surrogate unread", order("surrogate-extra", extra=',"x":"\\ud83dz"'), MALFORMED),
    Case("escaped surrogate pair", order("surrogate-pair", customer_id='"\\ud83d\\ude00"'), LANDS),
    Case("raw emoji and Vietnamese", order("utf8", status='"đã thanh toán 😀"'), LANDS),
    Case("U+2028 and U+FFFF", order("separators", customer_id='"a\u2028b\uffff"'), LANDS),
    Case("invalid UTF-8", order("bad-utf8", extra=',"x":"\xff"').replace("ÿ".encode(), b"\xff"), "not UTF-8"),
    Case("overlong UTF-8", order("overlong", extra=',"x":"@"').replace(b'"@"', b'"\xc0\xaf"'), "not UTF-8"),
    Case("UTF-8 encoded surrogate", order("cesu", extra=',"x":"@"').replace(b'"@"', b'"\xed\xa0\x80"'), "not UTF-8"),
    Case("UTF-8 BOM", b"\xef\xbb\xbf" + order("bom"), MALFORMED),
    Case("empty status", order("empty-status", status='""'), LANDS),
    Case("long string (60 KB)", order("long-string", customer_id=json.dumps("c" * 60_000)), LANDS),
    Case("oversized record", order("oversized", extra=',"pad":' + json.dumps("x" * 100_000)), "oversized"),
    Case("customer_id a number", order("customer-number", customer_id="7"), "field 'customer_id' must be"),
    Case("customer_id an object", order("customer-object", customer_id='{"a":1}'), "field 'customer_id' must be"),
    Case("customer_id null", order("customer-null", customer_id="null"), LANDS),
    Case("currency missing", order("no-currency", currency=None), LANDS),
    Case("status null", order("status-null", status="null"), "field 'status' must be a string"),
    Case("status missing", order("status-missing", status=None), "missing field 'status'"),
    # --- duplicate keys: DuckDB refuses a line that repeats a column it reads; other readers pick a value
    Case("duplicate amount", order("dup-amount", extra=',"amount":1e12'), "duplicate field: ['amount']"),
    Case("duplicate created_at", order("dup-created", extra=',"created_at":"x"'), "duplicate field: ['created_at']"),
    Case("duplicate via escaped key", order("dup-escaped", extra=',"amou\\u006et":2'), "duplicate field: ['amount']"),
    Case("duplicate optional", order("dup-optional", extra=',"currency":"EUR"'), "duplicate field: ['currency']"),
    Case("duplicate unread field", order("dup-unread", extra=',"x":1,"x":2'), LANDS),
    Case("duplicate nested", order("dup-nested", extra=',"x":{"a":1,"a":2}'), LANDS),
    Case("column name as a value", order("name-as-value", status='"amount"'), LANDS),
    # --- JSON shapes
    Case("pretty printed", order("pretty").replace(b",", b",\r\n  "), LANDS),
    Case("whitespace around", b" \t" + order("spaced") + b" \n", LANDS),
    Case("nested 100 deep", order("nested", extra=',"x":' + "[" * 100 + "]" * 100), LANDS),
    Case("nested 5000 deep", order("too-deep", extra=',"x":' + "[" * 5000 + "]" * 5000), MALFORMED),
    Case("trailing comma", order("trailing-comma", extra=","), MALFORMED),
    Case("comment", order("comment", extra="/* c */"), MALFORMED),
    Case("single quotes", order("single-quotes").replace(b'"status"', b"'status'"), MALFORMED),
    Case("trailing garbage", order("garbage") + b" x", MALFORMED),
    Case("two objects", order("two-objects") + order("two-objects-2"), MALFORMED),
    Case("truncated", order("truncated")[:-5], MALFORMED),
    Case("a type error, then truncated", order("type-then-truncated", status="1")[:-5], MALFORMED),
    Case("a type error, then a broken array", order("type-then-broken", status="1", extra=',"x":[}'), MALFORMED),
    Case("array", b"[1,2]", "JSON value is not an object"),
    Case("string", b'"order"', "JSON value is not an object"),
    Case("number", b"42", "JSON value is not an object"),
    Case("JSON null", b"null", "JSON value is not an object"),
    Case("empty bytes", b"", MALFORMED),
    Case("tombstone", None, "empty value (tombstone)"),
    Case(
        "reserved processed_at",
        order("reserved-processed", extra=',"processed_at":"x"'),
        "payload uses reserved field(s)",
    ),
    Case("reserved _kafka", order("reserved-kafka", extra=',"_kafka":{}'), "payload uses reserved field(s)"),
    # --- Kafka metadata: the key and timestamp only go to _kafka, which the models do not cast
    Case("key not UTF-8", order("key-bytes"), LANDS, key=b"\xff\xfe"),
    Case("key with NUL", order("key-nul"), LANDS, key=b"a\x00b"),
    Case("no key", order("no-key"), LANDS, key=None),
    Case("Kafka timestamp 1970", order("kafka-1970"), LANDS, timestamp_ms=1),
]
