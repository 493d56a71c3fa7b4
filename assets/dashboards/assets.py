"""The Dagster asset `superset/orders_realtime`: provisions "Orders Realtime" after the models it shows."""
# No `from __future__ import annotations` here: Dagster reads the annotations of asset functions at runtime.

from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, MaterializeResult, MetadataValue, asset

from assets.dashboards import spec
from assets.dashboards.provision import provision
from assets.models.assets import model_key
from assets.models.project import load_models
from resources.redact import redact
from resources.superset import SupersetResource

ASSET_KEY = AssetKey(["superset", spec.DASHBOARD_SLUG.replace("-", "_")])  # superset/orders_realtime


def dashboard_deps() -> list[AssetKey]:
    """The model assets whose tables the dashboard's datasets read."""
    models = load_models()
    return sorted({model_key(models[name]) for name in spec.DATASETS.values()}, key=lambda k: k.path)


def dashboard_asset() -> AssetsDefinition:
    """The asset that creates or updates the database connection, datasets, charts and dashboard in Superset."""

    @asset(
        key=ASSET_KEY,
        deps=dashboard_deps(),
        group_name="dashboards",
        kinds={"superset"},
        description=f'Superset dashboard "{spec.DASHBOARD_TITLE}" (refresh every {spec.REFRESH_SECONDS} s), '
        "its charts, datasets and database connection, provisioned through the REST API "
        "(docs/dashboard.md)",
    )
    def _dashboard(context: AssetExecutionContext, superset: SupersetResource) -> MaterializeResult:
        done = provision(superset.client(), superset.database_uri)
        context.log.info(f"provisioned dashboard {done.dashboard}; created: {', '.join(done.created) or 'nothing'}")
        return MaterializeResult(
            metadata={
                "dashboard_url": MetadataValue.url(
                    redact(f"{superset.url.rstrip('/')}/superset/dashboard/{spec.DASHBOARD_SLUG}/")
                ),
                "ids": MetadataValue.json(
                    {
                        "database": done.database,
                        "datasets": done.datasets,
                        "charts": done.charts,
                        "dashboard": done.dashboard,
                    }
                ),
                "created": MetadataValue.json(done.created),
                "detached": MetadataValue.json(done.detached),
            }
        )

    return _dashboard
