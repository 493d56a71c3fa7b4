"""The platform's own upkeep as one set of definitions, merged into the code location (docs/operations.md):
the housekeeping job and its schedule, the run-failure alerts, the freshness checks and their sensor."""

from __future__ import annotations

from dagster import Definitions

from assets.bronze import bronze_asset_key, configured_topics
from orchestration.alerts import run_failure_alerts
from orchestration.freshness import MODEL_TABLES, BronzeTarget, FreshnessChecks, ModelTarget
from orchestration.housekeeping import housekeeping, housekeeping_schedule
from resources.definitions import operations_resources


def freshness_checks(platform: Definitions) -> FreshnessChecks:
    """Freshness checks for the bronze assets of the configured topics and the model tables that `platform`
    defines; a model table's bronze assets are its upstream assets under bronze/."""
    graph = platform.resolve_asset_graph()
    keys = graph.get_all_asset_keys()
    bronze = [
        BronzeTarget(bronze_asset_key(spec), spec.topic)
        for spec in configured_topics()
        if bronze_asset_key(spec) in keys and graph.get(bronze_asset_key(spec)).is_materializable
    ]
    models = []
    for key in MODEL_TABLES:
        if key in keys:
            ancestors, todo = set(), [key]
            while todo:
                for parent in graph.get(todo.pop()).parent_keys:
                    if parent not in ancestors:
                        ancestors.add(parent)
                        todo.append(parent)
            models.append(ModelTarget(key, tuple(sorted(k for k in ancestors if k.path[0] == "bronze"))))
    return FreshnessChecks(bronze, models)


def operations_defs(platform: Definitions) -> Definitions:
    """The upkeep's definitions, for `Definitions.merge(platform, operations_defs(platform))`."""
    checks = freshness_checks(platform)
    return Definitions(
        jobs=[housekeeping],
        schedules=[housekeeping_schedule],
        sensors=[run_failure_alerts, checks.sensor_definition()],
        asset_checks=[checks.check_definition()] if checks.specs() else [],
        resources=operations_resources(),
    )
