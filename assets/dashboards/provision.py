"""Create or update, through Superset's REST API, everything spec.py describes. Each object is found by a
stable identity (database name; schema and table in that database; chart name on its dataset; dashboard
slug) and updated in place, so provisioning twice creates nothing twice."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import prison

from assets.dashboards import spec
from resources.superset import SupersetClient, SupersetError


class MissingTableError(SupersetError):
    """A dataset's table does not exist yet; the message names it and the model that creates it."""


@dataclass
class Provisioned:
    """The ids provisioning touched, which objects it had to create, and the charts it took off the dashboard."""

    database: int = 0
    datasets: dict[str, int] = field(default_factory=dict)
    charts: dict[str, int] = field(default_factory=dict)
    dashboard: int = 0
    created: list[str] = field(default_factory=list)
    detached: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Target:
    """Names of the Superset objects, so a test can provision its own copy beside the real one."""

    database_name: str = spec.DATABASE_NAME
    dashboard_title: str = spec.DASHBOARD_TITLE
    dashboard_slug: str = spec.DASHBOARD_SLUG


def provision(client: SupersetClient, database_uri: str, target: Target = Target()) -> Provisioned:
    """Bring the database connection, datasets, charts and dashboard in Superset to what spec.py says."""
    done = Provisioned()

    def upsert(kind: str, label: str, identity: dict, body: dict, update: dict | None = None) -> tuple[int, bool]:
        object_id, created = client.upsert(kind, identity, body, update)
        if created:
            done.created.append(f"{kind} {label}")
        return object_id, created

    name = target.database_name
    done.database, _ = upsert(
        "database",
        name,
        {"database_name": name},
        {"database_name": name, "sqlalchemy_uri": database_uri, "expose_in_sqllab": True},
    )
    _check_tables(client, done.database, name)
    for table in spec.DATASETS:
        identity = {"table_name": table, "schema": spec.SCHEMA, "database": ("rel_o_m", done.database)}
        done.datasets[table], created = upsert(
            "dataset",
            f"{spec.SCHEMA}.{table}",
            identity,
            {"database": done.database, "schema": spec.SCHEMA, "table_name": table},
            update={"description": f"{spec.SCHEMA}.{table}, provisioned by Dagster"},
        )
        if not created:  # pick up the columns a changed model added or dropped
            client.request("PUT", f"dataset/{done.datasets[table]}/refresh")
    done.dashboard, _ = upsert(
        "dashboard",
        target.dashboard_title,
        {"slug": target.dashboard_slug},
        {"dashboard_title": target.dashboard_title, "slug": target.dashboard_slug, "published": True},
    )
    for chart in spec.CHARTS:
        dataset = done.datasets[chart.table]
        done.charts[chart.name], _ = upsert(
            "chart",
            chart.name,
            {"slice_name": chart.name, "datasource_id": dataset},
            {
                "slice_name": chart.name,
                "viz_type": chart.viz_type,
                "datasource_id": dataset,
                "datasource_type": "table",
                "params": json.dumps(chart.form_data(dataset)),
                "query_context": json.dumps(chart.query_context(dataset)),
                "dashboards": [done.dashboard],
            },
        )
    _detach_others(client, done)
    client.request(
        "PUT",
        f"dashboard/{done.dashboard}",
        json={
            "dashboard_title": target.dashboard_title,
            "position_json": json.dumps(spec.layout(done.charts)),
            "json_metadata": json.dumps(spec.json_metadata()),
        },
    )
    return done


def _detach_others(client: SupersetClient, done: Provisioned) -> None:
    """Take every chart spec.py does not name (a renamed chart's old self, one added by hand) off the dashboard:
    Superset draws a dashboard's charts missing from its layout at the bottom. The chart itself is kept."""
    for chart in client.request("GET", f"dashboard/{done.dashboard}/charts")["result"]:
        if chart["id"] in done.charts.values():
            continue
        others = [
            d["id"]
            for d in client.request("GET", f"chart/{chart['id']}")["result"]["dashboards"]
            if d["id"] != done.dashboard
        ]
        client.request("PUT", f"chart/{chart['id']}", json={"dashboards": others})
        done.detached.append(chart["slice_name"])


def _check_tables(client: SupersetClient, database_id: int, database_name: str) -> None:
    """Every dataset's table exists in the database, as Superset sees it; else name the model that creates it."""
    query = prison.dumps({"schema_name": spec.SCHEMA, "force": True})
    tables = client.request("GET", f"database/{database_id}/tables/", params={"q": query})["result"]
    found = {t["value"] for t in tables}
    missing = [table for table in spec.DATASETS if table not in found]
    if missing:
        raise MissingTableError(
            "; ".join(
                f"table {spec.SCHEMA}.{t} does not exist yet in database {database_name!r}: it is created by the model "
                f"{spec.DATASETS[t]} (materialize it, e.g. through the lake_models job)"
                for t in missing
            )
        )
