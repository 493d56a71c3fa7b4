"""The code location `dagster dev` loads (see workspace.yaml)."""
from __future__ import annotations

from dagster import AssetSelection, DefaultScheduleStatus, Definitions, ScheduleDefinition, define_asset_job

from assets.dashboards.asset import dashboard_asset
from assets.lake import bronze_assets, kafka_sources
from assets.models.assets import model_assets
from orchestration.bronze import bronze_job, bronze_sensor
from resources.definitions import platform_resources

_bronze = bronze_assets()
_bronze_jobs = {spec: bronze_job(spec, asset) for spec, asset in _bronze.items()}
_models = model_assets()
_dashboard = dashboard_asset()  # cheap when nothing changed: it runs after every models run
# One run at a time (tag concurrency limit in infra/dagster/dagster.yaml): each run consumes the
# input objects its predecessor left, in dependency order.
lake_models_job = define_asset_job("lake_models", selection=AssetSelection.assets(*_models, _dashboard),
                                   tags={"lakehouse/models": "serial"},
                                   description="Run the SQL models on what bronze gained since the last run")
lake_models_schedule = ScheduleDefinition(job=lake_models_job, cron_schedule="* * * * *",
                                          default_status=DefaultScheduleStatus.RUNNING)

defs = Definitions(
    assets=[*kafka_sources(), *_bronze.values(), *_models, _dashboard],
    jobs=[*_bronze_jobs.values(), lake_models_job],
    schedules=[lake_models_schedule],
    sensors=[bronze_sensor(spec, asset, _bronze_jobs[spec]) for spec, asset in _bronze.items()],
    resources=platform_resources(),
)
