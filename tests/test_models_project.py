"""The dbt-like model loader: config, refs and sources become the asset graph; mistakes name their file."""

from __future__ import annotations

import pytest

from assets.models.project import ModelError, build_order, load_models


def _write(root, rel, text):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_the_shipped_models_form_the_lineage_bronze_silver_postgres():
    models = load_models()
    assert models["silver_orders"].sources == (("bronze", "orders"),)
    assert models["app_orders"].refs == ("silver_orders",)
    assert models["app_orders_recent"].refs == ("app_orders",)
    order = build_order(models)
    assert order.index("silver_orders") < order.index("app_orders") < order.index("app_orders_recent")


def test_the_asset_graph_shows_kafka_to_postgres():
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    upstream = {
        key.to_user_string(): {d.to_user_string() for d in graph.get(key).parent_keys}
        for key in graph.get_all_asset_keys()
    }
    assert upstream["bronze/orders"] == {"kafka/orders"}
    assert upstream["silver/orders"] == {"bronze/orders"}
    assert upstream["app/orders"] == {"silver/orders"}
    assert upstream["app/orders_recent"] == {"app/orders"}
    assert upstream["app/orders_per_minute"] == {"silver/orders"}
    assert upstream["app/orders_sliding_5m"] == {"app/orders_per_minute"}
    assert upstream["silver/orders_cdc"] == {"bronze/dbserver1_app_orders"}  # the CDC topic's bronze asset
    assert upstream["app/orders_cdc"] == {"silver/orders_cdc"}


def test_unknown_ref_is_an_error_naming_the_file(tmp_path):
    _write(
        tmp_path, "gold/x.sql", "{{ config(materialized='view', target='postgres') }} SELECT * FROM {{ ref('nope') }}"
    )
    with pytest.raises(ModelError, match=r"gold/x.sql: ref\('nope'\) names no model"):
        load_models(tmp_path)


def test_a_cycle_is_an_error_naming_the_files(tmp_path):
    view = "{{ config(materialized='view', target='postgres') }} SELECT * FROM {{ ref('%s') }}"
    _write(tmp_path, "a/one.sql", view % "a_two")
    _write(tmp_path, "a/two.sql", view % "a_one")
    with pytest.raises(ModelError, match=r"cycle a_one -> a_two -> a_one \(a/one.sql, a/two.sql\)"):
        load_models(tmp_path)


def test_bad_config_is_an_error_naming_the_file(tmp_path):
    _write(tmp_path, "silver/x.sql", "{{ config(materialized='incremental', target='s3') }} SELECT 1")
    with pytest.raises(ModelError, match="silver/x.sql: an incremental model needs config\\(unique_key"):
        load_models(tmp_path)


def test_a_changes_model_names_its_key_position_and_deletes_table(tmp_path):
    _write(
        tmp_path,
        "app/m.sql",
        "{{ config(materialized='changes', target='postgres', unique_key='k', "
        "position=['lsn']) }} SELECT 1 FROM {{ source('bronze', 'x') }}",
    )
    with pytest.raises(
        ModelError,
        match=r"app/m.sql: a changes model .* needs config\(unique_key=..., "
        r"position=..., deletes_table=...\)",
    ):
        load_models(tmp_path)


def test_a_model_with_several_inputs_is_refused_naming_the_file(tmp_path):
    _write(
        tmp_path,
        "silver/a.sql",
        "{{ config(materialized='incremental', target='s3', unique_key='k') }} "
        "SELECT 1 FROM {{ source('bronze', 'orders') }}",
    )
    _write(
        tmp_path,
        "silver/b.sql",
        "{{ config(materialized='incremental', target='s3', unique_key='k') }} "
        "SELECT 1 FROM {{ source('bronze', 'orders') }} JOIN {{ ref('silver_a') }} USING (k)",
    )
    with pytest.raises(
        ModelError,
        match=r"silver/b.sql: an incremental model reads exactly one source\(\) or ref\(\) "
        r"\(it names 2\)",
    ):
        load_models(tmp_path)


def test_a_windowed_model_names_its_keys_and_late_table(tmp_path):
    _write(
        tmp_path,
        "silver/a.sql",
        "{{ config(materialized='incremental', target='s3', unique_key='k') }} "
        "SELECT 1 FROM {{ source('bronze', 'orders') }}",
    )
    _write(
        tmp_path,
        "app/w.sql",
        "{{ config(materialized='windowed', target='postgres', unique_key='window_start', "
        "time_column='t', window_seconds=60) }} SELECT 1 FROM {{ ref('silver_a') }}",
    )
    with pytest.raises(
        ModelError,
        match=r"app/w.sql: a windowed model needs config\(event_key=..., "
        r"entity_key=..., late_table=...\)",
    ):
        load_models(tmp_path)
    shipped = load_models()["app_orders_per_minute"].config
    assert (shipped["event_key"], shipped["entity_key"], shipped["late_table"]) == (
        "event_id",
        "order_id",
        "app.late_events",
    )
