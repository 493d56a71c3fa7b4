"""The lake's own definitions: Kafka topics → bronze micro-batches → silver and Postgres models → the dashboard."""

from __future__ import annotations

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    Definitions,
    ScheduleDefinition,
    define_asset_job,
    in_process_executor,
)

from assets.dashboards import dashboard_asset
from assets.lake import bronze_assets, kafka_sources
from assets.models import model_assets
from orchestration.bronze import bronze_job, bronze_sensor, gap_check
from resources.definitions import load_settings, platform_resources


def lake_definitions() -> Definitions:
    """Bronze per topic (asset, fused job, sensor, gap check), the models, the dashboard and lake_models."""
    timing_ = load_settings()
    bronze = bronze_assets()
    models = model_assets()
    dashboard = dashboard_asset()
    # Each bronze run also brings the models that read its topic up to date (in the same process: seconds, not
    # another run's start-up); the dashboard is provisioned by lake_models only. docs/decisions.md.
    bronze_jobs = {
        spec: bronze_job(
            spec, asset, AssetSelection.assets(asset).downstream(include_self=False) - AssetSelection.assets(dashboard)
        )
        for spec, asset in bronze.items()
    }
    # The safety net and the way to run the models by hand: every model (and the dashboard) on what bronze gained.
    # Model runs never overlap whoever launches them (an advisory lock per model in assets/models/runner.py).
    lake_models = define_asset_job(
        "lake_models",
        selection=AssetSelection.assets(*models, dashboard),
        executor_def=in_process_executor,
        tags={"lakehouse/models": "serial", "dagster/max_runtime": "1800"},
        description="Run the SQL models on what bronze gained since the last run",
    )
    return Definitions(
        assets=[*kafka_sources(), *bronze.values(), *models, dashboard],
        jobs=[*bronze_jobs.values(), lake_models],
        schedules=[
            ScheduleDefinition(
                job=lake_models, cron_schedule=timing_.models_cron, default_status=DefaultScheduleStatus.RUNNING
            )
        ],
        asset_checks=[gap_check(spec, asset, f"bronze_{spec.name}") for spec, asset in bronze.items()],
        sensors=[
            bronze_sensor(spec, asset, bronze_jobs[spec], timing_.bronze_sensor_interval_s)
            for spec, asset in bronze.items()
        ],
        resources=platform_resources(),
    )
