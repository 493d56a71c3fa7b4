"""Rendering the Flink SQL files: safe quoting, statement splitting, and missing settings named before submission."""
from __future__ import annotations

import pytest

from assets.flink.pipelines import KAFKA_TO_MINIO, ORDERS_PER_MINUTE, FlinkPipelineConfig, sql_values
from assets.flink.sql import FlinkSqlError, render, split_statements


def _values(topic: str = "orders", **overrides: object) -> dict:
    values = sql_values(KAFKA_TO_MINIO, FlinkPipelineConfig(topic=topic), "127.0.0.1:9092", "lakehouse",
                        "postgresql://u:p@127.0.0.1:5432/db")
    return {**values, **overrides}


def test_kafka_to_minio_renders_a_source_two_sinks_and_one_statement_set():
    statements = render("kafka_to_minio", _values())
    assert [s.split("(")[0].split(" AS")[0].strip() for s in statements[:4]] == [
        "CREATE TEMPORARY TABLE kafka_source", "CREATE TEMPORARY VIEW checked_source",
        "CREATE TEMPORARY TABLE bronze_sink", "CREATE TEMPORARY TABLE quarantine_sink"]
    assert statements[4].startswith("EXECUTE STATEMENT SET BEGIN") and statements[4].endswith("END")
    assert "'topic' = 'orders'" in statements[0]
    assert "WATERMARK FOR `event_time` AS `event_time` - INTERVAL '5' SECOND" in statements[0]
    assert "'path' = 's3://lakehouse/bronze/flink/orders/'" in statements[2]


def test_a_value_cannot_change_the_shape_of_a_statement():
    statements = render("kafka_to_minio", _values(bootstrap_servers="x'); DROP TABLE t; --"))
    assert "'properties.bootstrap.servers' = 'x''); DROP TABLE t; --'" in statements[0]
    assert len(statements) == 5


def test_a_missing_setting_fails_before_submission_and_is_named():
    values = _values()
    del values["bootstrap_servers"]
    with pytest.raises(FlinkSqlError, match="setting bootstrap_servers is missing; nothing was submitted"):
        render("kafka_to_minio", values)


def test_the_aggregate_needs_a_topic_with_the_orders_schema():
    with pytest.raises(ValueError, match="topic 'lab-events' has schema None"):
        sql_values(ORDERS_PER_MINUTE, FlinkPipelineConfig(topic="lab-events"), "k:9092", "b", "postgresql://u:p@h/db")


def test_the_aggregate_gets_jdbc_settings_from_pg_url():
    values = sql_values(ORDERS_PER_MINUTE, FlinkPipelineConfig(topic="orders"), "k:9092", "b",
                        "postgresql://de_user:p%40ss@db.example:6543/de_db")
    assert (values["jdbc_url"], values["jdbc_user"], values["jdbc_password"]) == (
        "jdbc:postgresql://db.example:6543/de_db", "de_user", "p@ss")


def test_statements_split_at_line_ends_outside_string_literals():
    sql = "-- comment\nSELECT 'a;\nb';\nSELECT 2;\n"
    assert split_statements(sql) == ["SELECT 'a;\nb'", "SELECT 2"]
    with pytest.raises(FlinkSqlError, match="does not end with ';'"):
        split_statements("SELECT 1")
