"""The code location `dagster dev` loads (see workspace.yaml)."""
from __future__ import annotations

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    Definitions,
    ScheduleDefinition,
    define_asset_job,
    in_process_executor,
)

from assets.dashboards.asset import dashboard_asset
from assets.flink.assets import flink_assets
from assets.lake import bronze_assets, kafka_sources
from assets.models.assets import model_assets
from orchestration.bronze import bronze_job, bronze_sensor, gap_check
from orchestration.flink import flink_jobs_sensor, flink_resume_from_savepoint, flink_stop_with_savepoint, submit_job
from resources.definitions import platform_resources, timing

_timing = timing()
_bronze = bronze_assets()
_models = model_assets()
_dashboard = dashboard_asset()
_gap_checks = {spec: gap_check(spec, asset, f"bronze_{spec.name}") for spec, asset in _bronze.items()}
# Each bronze run also brings the models that read its topic up to date (in the same process: seconds, not
# another run's start-up); the dashboard is provisioned by lake_models only. docs/decisions.md.
_bronze_jobs = {
    spec: bronze_job(spec, asset, AssetSelection.assets(asset).downstream(include_self=False)
                     - AssetSelection.assets(_dashboard))
    for spec, asset in _bronze.items()
}
# The safety net and the way to run the models by hand: every model (and the dashboard) on what bronze gained.
# Model runs never overlap whoever launches them (an advisory lock per model in assets/models/runner.py).
lake_models_job = define_asset_job("lake_models", selection=AssetSelection.assets(*_models, _dashboard),
                                   executor_def=in_process_executor,
                                   tags={"lakehouse/models": "serial", "dagster/max_runtime": "1800"},
                                   description="Run the SQL models on what bronze gained since the last run")
_bronze_flink, _orders_per_minute_flink = flink_assets()
flink_jobs = [
    submit_job(_bronze_flink, "flink_kafka_to_minio",
               "Submit the Flink SQL pipeline Kafka → object store (or report it running)"),
    submit_job(_orders_per_minute_flink, "flink_orders_per_minute",
               "Submit the Flink SQL 1-minute windows into Postgres (or report it running)"),
    flink_stop_with_savepoint,
    flink_resume_from_savepoint,
]
lake_models_schedule = ScheduleDefinition(job=lake_models_job, cron_schedule=_timing.models_cron,
                                          default_status=DefaultScheduleStatus.RUNNING)

defs = Definitions(
    assets=[*kafka_sources(), *_bronze.values(), *_models, _dashboard, _bronze_flink, _orders_per_minute_flink],
    jobs=[*_bronze_jobs.values(), lake_models_job, *flink_jobs],
    schedules=[lake_models_schedule],
    asset_checks=list(_gap_checks.values()),
    sensors=[*(bronze_sensor(spec, asset, _bronze_jobs[spec], _timing.bronze_sensor_interval_s)
               for spec, asset in _bronze.items()), flink_jobs_sensor],
    resources=platform_resources(),
)

# Change data capture (docs/cdc.md) builds its own Definitions in orchestration/cdc.py; merged in here.
from orchestration.cdc import cdc_definitions  # noqa: E402

defs = Definitions.merge(defs, cdc_definitions())

# The platform's upkeep (docs/operations.md): housekeeping, failure alerts, freshness checks; merged in here.
from orchestration.operations import operations_defs  # noqa: E402

defs = Definitions.merge(defs, operations_defs(defs))
