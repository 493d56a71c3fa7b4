"""Declared schemas of topic payloads: the required fields and what each must be."""
from __future__ import annotations

from datetime import datetime
from typing import Callable


def _is_string(value: object) -> bool:
    return isinstance(value, str)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_timestamp(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


Check = tuple[Callable[[object], bool], str]

STRING: Check = (_is_string, "a string")
NUMBER: Check = (_is_number, "a number")
TIMESTAMP: Check = (_is_timestamp, "an ISO-8601 timestamp string")

SCHEMAS: dict[str, dict[str, Check]] = {
    "orders": {
        "event_id": STRING,
        "order_id": STRING,
        "status": STRING,
        "amount": NUMBER,
        "created_at": TIMESTAMP,
    },
}


def violations(payload: dict, schema: str) -> list[str]:
    """What is wrong with `payload` under `schema` ([] when it conforms)."""
    problems = []
    for field, (ok, what) in SCHEMAS[schema].items():
        if field not in payload or payload[field] is None:
            problems.append(f"missing field {field!r}")
        elif not ok(payload[field]):
            problems.append(f"field {field!r} must be {what}, got {payload[field]!r:.60}")
    return problems
