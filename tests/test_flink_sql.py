"""Rendering the Flink SQL files: safe quoting, statement splitting, and missing settings named before submission."""

from __future__ import annotations

import pytest

from assets.flink.pipelines import KAFKA_TO_MINIO, ORDERS_PER_MINUTE, FlinkPipelineConfig, sql_values
from assets.flink.sql import FlinkSqlError, render, split_statements
from resources.flink import FlinkResource

FLINK = FlinkResource(rest_url="http://flink:8081", sql_gateway_url="http://flink:8083")  # the documented defaults


def _values(topic: str = "orders", flink: FlinkResource = FLINK, **overrides: object) -> dict:
    values = sql_values(
        KAFKA_TO_MINIO,
        FlinkPipelineConfig(topic=topic),
        flink,
        "127.0.0.1:9092",
        "lakehouse",
        "postgresql://u:p@127.0.0.1:5432/db",
    )
    return {**values, **overrides}


FUNCTIONS = [
    "lakehouse_order",
    "lakehouse_order_validity",
    "lakehouse_payload_reason",
    "lakehouse_bronze_line",
    "lakehouse_base64",
]


def test_kafka_to_minio_renders_functions_a_source_two_sinks_and_one_statement_set():
    rendered = render("kafka_to_minio", _values())
    functions, statements = rendered[: len(FUNCTIONS)], rendered[len(FUNCTIONS) :]
    assert [f.split("\n")[0] for f in functions] == [f"CREATE TEMPORARY SYSTEM FUNCTION {f}" for f in FUNCTIONS]
    assert all(f.endswith("LANGUAGE JAVA") for f in functions), "from the classpath unless FLINK_UDF_JAR is set"
    assert [s.split("(")[0].split(" AS")[0].strip() for s in statements[:4]] == [
        "CREATE TEMPORARY TABLE kafka_source",
        "CREATE TEMPORARY VIEW checked_source",
        "CREATE TEMPORARY TABLE bronze_sink",
        "CREATE TEMPORARY TABLE quarantine_sink",
    ]
    assert statements[4].startswith("EXECUTE STATEMENT SET BEGIN") and statements[4].endswith("END")
    assert "'topic' = 'orders'" in statements[0]
    assert "WATERMARK FOR `event_time` AS `event_time` - INTERVAL '5' SECOND" in statements[0]
    assert "'path' = 's3://lakehouse/bronze/flink/orders/'" in statements[2]
    assert "JSON_VALUE" not in "".join(statements), "each payload is parsed once, by lakehouse_order"


def test_the_functions_load_from_flink_udf_jar_when_it_is_set():
    flink = FLINK.model_copy(update={"udf_jar": "s3://jars/lakehouse-flink-udf.jar"})  # FLINK_UDF_JAR
    functions = render("kafka_to_minio", _values(flink=flink))[: len(FUNCTIONS)]
    assert all(f.endswith("LANGUAGE JAVA USING JAR 's3://jars/lakehouse-flink-udf.jar'") for f in functions)


def test_a_value_cannot_change_the_shape_of_a_statement():
    statements = render("kafka_to_minio", _values(bootstrap_servers="x'); DROP TABLE t; --"))
    assert "'properties.bootstrap.servers' = 'x''); DROP TABLE t; --'" in statements[len(FUNCTIONS)]
    assert len(statements) == len(FUNCTIONS) + 5


def test_a_missing_setting_fails_before_submission_and_is_named():
    values = _values()
    del values["bootstrap_servers"]
    with pytest.raises(FlinkSqlError, match="setting bootstrap_servers is missing; nothing was submitted"):
        render("kafka_to_minio", values)


def test_the_aggregate_needs_a_topic_with_the_orders_schema():
    with pytest.raises(ValueError, match="topic 'lab-events' has schema None"):
        sql_values(
            ORDERS_PER_MINUTE, FlinkPipelineConfig(topic="lab-events"), FLINK, "k:9092", "b", "postgresql://u:p@h/db"
        )


def test_the_aggregate_gets_the_jdbc_url_from_pg_url_and_never_the_password():
    pg_url = "postgresql://de%20user:s3cr%40t-pw@db.example:6543/de_db"
    values = sql_values(ORDERS_PER_MINUTE, FlinkPipelineConfig(topic="orders"), FLINK, "k:9092", "b", pg_url)
    assert values["jdbc_url"] == "jdbc:postgresql://db.example:6543/de_db?user=de%20user"
    sql = "\n".join(render("orders_per_minute", values))
    assert "'url' = 'jdbc:postgresql://db.example:6543/de_db?user=de%20user'" in sql
    assert "s3cr" not in sql and "'password'" not in sql, "the TaskManagers read the password from their pgpass"


def test_statements_split_at_line_ends_outside_string_literals():
    sql = "-- comment\nSELECT 'a;\nb';\nSELECT 2;\n"
    assert split_statements(sql) == ["SELECT 'a;\nb'", "SELECT 2"]
    with pytest.raises(FlinkSqlError, match="does not end with ';'"):
        split_statements("SELECT 1")
