"""The code location `dagster dev` loads (see workspace.yaml)."""
from __future__ import annotations

from dagster import Definitions

from assets.lake import bronze_assets, kafka_sources
from orchestration.bronze import bronze_job, bronze_sensor
from resources.definitions import platform_resources

_bronze = bronze_assets()
_bronze_jobs = {spec: bronze_job(spec, asset) for spec, asset in _bronze.items()}

defs = Definitions(
    assets=[*kafka_sources(), *_bronze.values()],
    jobs=list(_bronze_jobs.values()),
    sensors=[bronze_sensor(spec, asset, _bronze_jobs[spec]) for spec, asset in _bronze.items()],
    resources=platform_resources(),
)
