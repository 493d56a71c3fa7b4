"""Poison values (issue 10, point 2): every record either lands in bronze and then casts in the silver model's
DuckDB query and in Postgres, or is quarantined with its reason. No record may stop the models.

The cases are one table: a unit part checks each decision of the transform, and a part against the real
services produces every case to a fresh topic, lands it through the bronze sensor and runs, reads every
landed object exactly as the silver model does, and inserts the rows into app.orders of a sandbox database.
"""

from __future__ import annotations

import json

import pytest
from confluent_kafka import Producer
from dagster import DagsterInstance

from assets.bronze.schemas import SCHEMAS
from assets.bronze.topics import TopicSpec
from assets.bronze.transform import MAX_LINE_BYTES, KafkaRecord, Transform, transform
from assets.models.project import load_models
from assets.models.runner import ModelRunner, load_sources
from infra.stack.sandbox import sandbox
from resources import duckdb as lake_duckdb
from tests.support.bronze import BronzeHarness
from tests.support.poison import CASES, LANDS, MAX_MESSAGE, ORDERS, Case, order


def _decide(case: Case, max_message_bytes: int = MAX_MESSAGE):
    return transform(
        KafkaRecord("poison", 0, 7, case.timestamp_ms, case.key, case.value),
        ORDERS,
        "2026-01-01T00:00:05.000Z",
        max_message_bytes,
    )


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_value_lands_or_is_quarantined_with_its_reason(case):
    out = _decide(case)
    if case.reason is LANDS:
        assert not out.quarantined, out.reason
        line = json.loads(out.line)
        assert line["event_id"].startswith("poison-") and line["_kafka"]["offset"] == 7
    else:
        assert out.quarantined and case.reason in out.reason, out.reason


def test_case_names_and_event_ids_are_unique():
    assert len({c.name for c in CASES}) == len(CASES)
    ids = [json.loads(c.value)["event_id"] for c in CASES if c.reason is LANDS]
    assert len(set(ids)) == len(ids)


def test_a_line_duckdb_cannot_read_is_oversized_whatever_the_configured_limit():
    value = order("huge", extra=',"pad":' + json.dumps("x" * MAX_LINE_BYTES))
    date, line, _, reason = Transform(ORDERS, "t", 1 << 30)(0, 0, None, None, value)
    assert reason.startswith("oversized") and str(MAX_LINE_BYTES) in reason


def test_the_orders_schema_declares_exactly_the_columns_silver_reads():
    """One definition: the bronze schema and dbt_like_sql/sources.yml name the same columns and types."""
    columns = dict(load_sources()[("bronze", "orders")]["columns"])
    assert columns.pop("processed_at") == "VARCHAR" and columns.pop("_kafka").startswith("STRUCT")
    schema = SCHEMAS["orders"]
    assert set(schema.columns) == set(columns)
    duck = {"a string": "VARCHAR", "a string or null": "VARCHAR"}
    for column, duck_type in columns.items():
        described = schema.describe(column)
        assert duck.get(described, "DOUBLE" if "number" in described else "VARCHAR") == duck_type, column


def _silver_rows_into_postgres(store, postgres, keys: list[str]) -> int:
    """Read `keys` exactly as the silver model does, insert the rows into app.orders as its upsert does
    (DuckDB's postgres extension, binary COPY); return how many rows arrived."""
    models = load_models()
    sql = ModelRunner(models, store, postgres).render(models["silver_orders"], keys)
    con = lake_duckdb.connect(store)
    try:
        con.execute(f"CREATE TEMP TABLE silver AS {sql}")
        con.execute("LOAD postgres")
        con.execute(f"ATTACH '{postgres.url}' AS pg (TYPE postgres)")
        con.execute(
            "INSERT INTO pg.app.orders (order_id, event_id, customer_id, status, amount, currency, "
            "created_at, processed_at) SELECT order_id, event_id, customer_id, status, amount, currency, "
            "created_at, processed_at FROM silver"
        )
        con.execute("DETACH pg")
    finally:
        con.close()
    with postgres.connect() as conn:
        return conn.execute("SELECT count(*) FROM app.orders WHERE event_id LIKE 'poison-%'").fetchone()[0]


def test_every_poison_record_is_landed_and_castable_or_quarantined(fresh_topic, resources, cfg, monkeypatch):
    monkeypatch.setenv("BRONZE_MAX_MESSAGE_BYTES", str(MAX_MESSAGE))
    harness = BronzeHarness(TopicSpec(fresh_topic, "json", "orders"), DagsterInstance.ephemeral())
    producer = Producer({"bootstrap.servers": resources["kafka"].bootstrap_servers, "linger.ms": 5})
    delivered: dict[tuple[int, int], Case] = {}

    def on_delivery(err, msg, case):
        assert err is None, f"{case.name}: {err}"
        delivered[(msg.partition(), msg.offset())] = case

    for case in CASES:
        producer.produce(
            fresh_topic,
            case.value,
            case.key,
            timestamp=case.timestamp_ms or 0,
            on_delivery=lambda err, msg, case=case: on_delivery(err, msg, case),
        )
    assert producer.flush(30) == 0 and len(delivered) == len(CASES)

    harness.drain()
    landed, quarantined = harness.objects("stream"), harness.objects("quarantine")
    landed_at = [(line["_kafka"]["partition"], line["_kafka"]["offset"]) for lines in landed.values() for line in lines]
    reasons = {
        (line["_kafka"]["partition"], line["_kafka"]["offset"]): line["reason"]
        for lines in quarantined.values()
        for line in lines
    }
    quarantined_at = [
        (line["_kafka"]["partition"], line["_kafka"]["offset"]) for lines in quarantined.values() for line in lines
    ]
    every = landed_at + quarantined_at
    lost = set(delivered) - set(every)
    duplicated = len(every) - len(set(every))
    print(
        f"\npoison: produced {len(delivered)}, landed {len(landed_at)}, quarantined {len(quarantined_at)}, "
        f"lost {len(lost)}, duplicated {duplicated}"
    )
    assert not lost and duplicated == 0

    # first what the services say (a poison that bronze let through fails here, with DuckDB's or Postgres' error)
    with sandbox(cfg, resources["object_store"], resources["postgres"], prefix="poison") as (_, postgres):
        rows = _silver_rows_into_postgres(resources["object_store"], postgres, sorted(landed))
    print(f"poison: {rows} landed records read by the silver query and stored in Postgres")
    assert rows == len(landed_at)

    wrong = [
        f"{delivered[at].name}: expected to land, quarantined: {reasons[at]}"
        for at in quarantined_at
        if delivered[at].reason is LANDS
    ]
    wrong += [
        f"{delivered[at].name}: expected quarantine ({delivered[at].reason}), landed"
        for at in landed_at
        if delivered[at].reason is not LANDS
    ]
    wrong += [
        f"{delivered[at].name}: reason {reasons[at]!r} lacks {delivered[at].reason!r}"
        for at in quarantined_at
        if delivered[at].reason is not LANDS and delivered[at].reason not in reasons[at]
    ]
    assert not wrong, "\n".join(wrong)
