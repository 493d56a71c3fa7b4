"""Declared schemas of topic payloads: one definition of what bronze lands and the models can cast.

Each schema is a msgspec Struct whose fields are the columns the models read (dbt_like_sql/sources.yml) with
the narrowest type every reader agrees on: Python, DuckDB's casts in models/silver/orders.sql and Postgres.
A record that fits lands; anything else is quarantined with the reason (tests/test_poison.py proves both).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, UnsetType

# Date, 'T' or space, time to the second, at most 6 fraction digits, 'Z' or ±hh:mm (hours ≤ 14, as real zones
# are) or nothing (UTC). The subset that Python's fromisoformat, DuckDB's TIMESTAMPTZ cast and Postgres all read
# the same: no basic (20260101T000000), week (2026-W01-1), ordinal (2026-001) or hour-only (T00) forms, no
# lowercase t/z, no comma decimals, no date alone. Field ranges (month 13, 24:00, a leap second, 2026-02-30)
# are left to fromisoformat. Checked here rather than as a msgspec pattern: the same regex costs twice as much
# when msgspec calls it.
TIMESTAMP_GRAMMAR = re.compile(
    r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-](?:0\d|1[0-4]):\d\d)?\Z", re.ASCII
)
# After the shift to UTC, a year of margin inside Python's datetime range (years 1-9999), the narrowest of the
# engines: the models' derived times (window ends, watermark - out-of-orderness, cutoff - lateness) stay valid.
EARLIEST = datetime(2, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(9998, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc)
AMOUNT_LIMIT = 999_999_999_999.99  # DECIMAL(14, 2); a double beyond ±...99 may round past the decimal's range

Text = Annotated[str, msgspec.Meta(description="a string")]
Amount = Annotated[
    float,
    msgspec.Meta(
        ge=-AMOUNT_LIMIT,
        le=AMOUNT_LIMIT,
        description=(
            f"a number from {-AMOUNT_LIMIT:.2f} to {AMOUNT_LIMIT:.2f} (DECIMAL(14, 2); not a boolean, not a string)"
        ),
    ),
]
Timestamp = Annotated[
    str,
    msgspec.Meta(
        description=(  # and event_time() below
            "an ISO-8601 timestamp YYYY-MM-DDThh:mm:ss[.ffffff][Z|±hh:mm] (space for T allowed, no offset = UTC)"
        )
    ),
]
OptionalText = Annotated[str | None | UnsetType, msgspec.Meta(description="a string or null")]


class Reserved(msgspec.Struct, kw_only=True, gc=False):
    """Every JSON payload: the fields bronze adds itself must not come from the producer."""

    processed_at: Any = UNSET
    kafka: Any = msgspec.field(default=UNSET, name="_kafka")


class Orders(Reserved, kw_only=True, gc=False):
    """An order event: the columns of source('bronze', 'orders'), in the order producers write them (a payload
    that msgspec would encode byte for byte the same takes bronze's fastest path). An absent optional field
    stays UNSET, so that it is not encoded either."""

    event_id: Text
    order_id: Text
    customer_id: OptionalText = UNSET
    status: Text
    amount: Amount
    currency: OptionalText = UNSET
    created_at: Timestamp


Row = Annotated[dict[str, Any] | None, msgspec.Meta(description="an object (the row's columns) or null")]


class ChangeSource(msgspec.Struct, kw_only=True, gc=False):
    """Where a change comes from: its WAL position, transaction and commit time (Debezium adds more; ignored)."""

    lsn: Annotated[int, msgspec.Meta(description="an integer (the change's WAL position)")]
    tx_id: Annotated[int, msgspec.Meta(description="an integer (the change's transaction)")] = msgspec.field(
        name="txId"
    )
    ts_ms: Annotated[int, msgspec.Meta(description="an integer (the commit time, epoch milliseconds)")]


class DebeziumChange(Reserved, kw_only=True, gc=False):
    """A Debezium change event (JSON without embedded schemas): `op` r (snapshot read), c, u or d, the row
    `before` and `after` it, `source.lsn`/`source.txId`/`source.ts_ms` (commit time) and `ts_ms` (when Debezium
    processed it). The rows are kept whole, so a column added to the source table reaches bronze and silver."""

    before: Row = None
    after: Row = None
    source: Annotated[ChangeSource, msgspec.Meta(description="an object with integers lsn, txId and ts_ms")]
    op: Annotated[Literal["r", "c", "u", "d"], msgspec.Meta(description="one of 'r', 'c', 'u', 'd'")]
    ts_ms: Annotated[int, msgspec.Meta(description="an integer (epoch milliseconds)")]

    def __post_init__(self) -> None:
        """A change without the row it is about cannot be applied (msgspec reports this as a ValidationError)."""
        if self.op == "d" and self.before is None:
            raise ValueError("op 'd' needs the deleted row in 'before'")
        if self.op != "d" and self.after is None:
            raise ValueError(f"op {self.op!r} needs the row in 'after'")


@dataclass(frozen=True)
class Schema:
    """A payload type, which of its fields holds the event time, and whether a record without a value (a
    delete's tombstone, for log compaction) is expected rather than bad."""

    struct: type[Reserved]
    event_time: str | None = None
    tombstones: bool = False

    @property
    def columns(self) -> tuple[str, ...]:
        """The JSON names of the fields the models read (the reserved ones excluded)."""
        reserved = {f.name for f in msgspec.structs.fields(Reserved)}
        return tuple(f.encode_name for f in msgspec.structs.fields(self.struct) if f.name not in reserved)

    def describe(self, column: str) -> str:
        """What `column` (or a nested field's path, such as source.lsn) must be, in words."""
        struct: Any = self.struct
        for part in column.split("."):
            field = next(f for f in msgspec.structs.fields(struct) if f.encode_name == part)
            struct = field.type.__origin__  # Annotated[<type>, Meta]: the type, a struct when nested
        return field.type.__metadata__[0].description


SCHEMAS: dict[str, Schema] = {
    "orders": Schema(Orders, event_time="created_at"),
    "debezium": Schema(DebeziumChange, tombstones=True),
}
SCHEMALESS = Schema(Reserved)  # a json topic without a schema: any object without bronze's own fields


def event_time(value: str) -> datetime:
    """`value` as an aware datetime; ValueError unless it follows TIMESTAMP_GRAMMAR, is a real date and time
    (not 2026-02-30) and lies within [EARLIEST, LATEST] once shifted to UTC."""
    if TIMESTAMP_GRAMMAR.match(value) is None:
        raise ValueError(f"must be {Timestamp.__metadata__[0].description}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"is no real date and time ({exc})") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    if not "0003" <= value[:4] <= "9997" and not EARLIEST <= parsed <= LATEST:  # an offset moves at most 14 h
        raise ValueError(f"is outside {EARLIEST.date()} .. {LATEST.date()} (UTC), the range every reader handles")
    return parsed
