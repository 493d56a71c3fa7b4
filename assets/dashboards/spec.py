"""What the dashboard "Orders Realtime" is made of: the datasets (and the model whose run creates or fills each
table), the charts, and their layout. Plain data; provision.py turns it into Superset objects."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

DATABASE_NAME = "Postgres App"
DASHBOARD_TITLE = "Orders Realtime"
DASHBOARD_SLUG = "orders-realtime"
REFRESH_SECONDS = 30
SCHEMA = "app"
LAST_HOUR = 'DATEADD(DATETIME("now"), -1, hour) : now'
LAST_15_MINUTES = 'DATEADD(DATETIME("now"), -15, minute) : now'

# Dataset table -> the model (name as `ref` spells it) whose run creates or fills it.
DATASETS: dict[str, str] = {
    "orders": "app_orders",
    "orders_recent": "app_orders_recent",
    "orders_per_minute": "app_orders_per_minute",
    "orders_per_minute_processing": "app_orders_per_minute_processing",
    "late_events": "app_orders_per_minute",  # the events too late for a window are its by-product
    "orders_cdc": "app_orders_cdc",  # the application's rows, mirrored through CDC (docs/cdc.md)
    "orders_cdc_lag": "app_orders_cdc_lag",
    # A view (migration 0009) over the three engines' windows; the DuckDB model fills the first of them.
    "orders_per_minute_engines": "app_orders_per_minute",
}


def total(column: str, label: str, aggregate: str = "SUM") -> dict:
    """An ad-hoc metric: `aggregate`(`column`) AS `label`."""
    return {"expressionType": "SIMPLE", "column": {"column_name": column}, "aggregate": aggregate, "label": label}


ORDERS = total("orders", "orders")
REVENUE = total("revenue", "revenue")
ORDER_COUNT = {"expressionType": "SQL", "sqlExpression": "COUNT(*)", "label": "orders"}
ORDER_REVENUE = total("amount", "revenue")
MIRROR_LAG_P95 = total("lag_p95_s", "lag p95 (s)", "MAX")
# One measure, three engines (docs/engines.md): the same scale, one series each.
ENGINE_ORDERS = (total("duckdb", "DuckDB"), total("flink", "Flink"), total("spark", "Spark"))

# The generator's amounts come in VND, USD and EUR and the models sum them as they are: there is no one currency to
# name, so the unit says what the number is.
REVENUE_UNIT = "amount / min (VND+USD+EUR)"


def per_minute(unit: str, clock: str, number_format: str, kind: str = "line") -> dict:
    """Presentation of a one-metric time series: its unit on the y axis, the clock it is bucketed by on the x axis
    (times in UTC), no legend (the title names the one series)."""
    return {
        "y_axis_title": unit,
        "y_axis_title_position": "Left",
        "y_axis_title_margin": 50,
        "y_axis_format": number_format,
        "x_axis_title": f"{clock}, 1-minute windows (UTC)",
        "x_axis_title_margin": 30,
        "x_axis_time_format": "%H:%M",
        "show_legend": False,
        "rich_tooltip": True,
        "markerEnabled": kind == "line",
        "markerSize": 4,
        "truncateYAxis": False,
        "seriesType": kind,
    }


@dataclass(frozen=True)
class Chart:
    """One chart: its dataset, visualisation, what it selects, and its place in the layout (row, width of 12)."""

    name: str
    table: str
    viz_type: str
    row: int
    width: int
    height: int = 50  # in the dashboard grid's units of 8 px
    metrics: tuple[dict, ...] = ()
    x_axis: str | None = None  # time-series charts: the time column, bucketed by minute
    groupby: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()  # raw-record tables
    time_column: str | None = None
    time_range: str | None = None
    orderby: tuple[tuple[str | dict, bool], ...] = ()  # (column or metric, ascending)
    row_limit: int = 10_000
    options: dict = field(default_factory=dict)  # presentation-only form data

    def filters(self) -> list[dict]:
        """The query's time-range filter, if any."""
        if not self.time_range:
            return []
        return [{"col": self.time_column, "op": "TEMPORAL_RANGE", "val": self.time_range}]

    def form_data(self, dataset_id: int) -> dict:
        """The chart's `params`: what the browser renders from."""
        data = {
            "datasource": f"{dataset_id}__table",
            "viz_type": self.viz_type,
            "row_limit": self.row_limit,
            "adhoc_filters": [
                {
                    "clause": "WHERE",
                    "subject": f["col"],
                    "operator": f["op"],
                    "comparator": f["val"],
                    "expressionType": "SIMPLE",
                }
                for f in self.filters()
            ],
            **self.options,
        }
        if self.x_axis:
            data.update(x_axis=self.x_axis, time_grain_sqla="PT1M", metrics=list(self.metrics), groupby=[])
        elif self.columns:
            data.update(
                query_mode="raw",
                all_columns=list(self.columns),
                order_by_cols=[json.dumps([col, asc]) for col, asc in self.orderby],
            )
        else:
            data.update(metric=self.metrics[0], groupby=list(self.groupby))
        return data

    def query(self) -> dict:
        """The one query of the chart's saved query context (what /api/v1/chart/<id>/data/ runs)."""
        if self.x_axis:
            columns: list = [
                {
                    "columnType": "BASE_AXIS",
                    "sqlExpression": self.x_axis,
                    "label": self.x_axis,
                    "expressionType": "SQL",
                    "timeGrain": "PT1M",
                }
            ]
            orderby = [[self.x_axis, True]]
        else:
            columns = list(self.groupby or self.columns)
            orderby = [list(o) for o in self.orderby]
        # No metrics at all (None, not []) makes a raw-records query, as the browser's own for query_mode "raw";
        # [] would GROUP BY the columns.
        metrics = None if self.columns else list(self.metrics)
        return {
            "columns": columns,
            "metrics": metrics,
            "orderby": orderby,
            "filters": self.filters(),
            "row_limit": self.row_limit,
            "extras": {"having": "", "where": ""},
        }

    def query_context(self, dataset_id: int) -> dict:
        """The saved query context: the query plus the form data it came from."""
        return {
            "datasource": {"id": dataset_id, "type": "table"},
            "force": False,
            "queries": [self.query()],
            "form_data": self.form_data(dataset_id),
            "result_format": "json",
            "result_type": "full",
        }


def _per_minute_chart(
    name: str, table: str, metric: dict, row: int, unit: str, clock: str, number_format: str, kind: str
) -> Chart:
    return Chart(
        name,
        table,
        f"echarts_timeseries_{kind}",
        row=row,
        width=6,
        height=40,
        metrics=(metric,),
        x_axis="window_start",
        time_column="window_start",
        time_range=LAST_HOUR,
        options=per_minute(unit, clock, number_format, kind),
    )


# Counts and money never share an axis: one chart per measure, event time beside processing time.
CHARTS: tuple[Chart, ...] = (
    _per_minute_chart(
        "Orders per minute (event time)", "orders_per_minute", ORDERS, 0, "orders / min", "event time", ",d", "bar"
    ),
    _per_minute_chart(
        "Orders per minute (processing time)",
        "orders_per_minute_processing",
        ORDERS,
        0,
        "orders / min",
        "processing time",
        ",d",
        "bar",
    ),
    _per_minute_chart(
        "Revenue per minute (event time)", "orders_per_minute", REVENUE, 1, REVENUE_UNIT, "event time", ",.0f", "line"
    ),
    _per_minute_chart(
        "Revenue per minute (processing time)",
        "orders_per_minute_processing",
        REVENUE,
        1,
        REVENUE_UNIT,
        "processing time",
        ",.0f",
        "line",
    ),
    Chart(
        "Orders by status, last hour",
        "orders_recent",
        "pie",
        row=2,
        width=4,
        height=45,
        metrics=(ORDER_COUNT,),
        groupby=("status",),
        time_column="created_at",
        time_range=LAST_HOUR,
        orderby=((ORDER_COUNT, False),),
        options={
            "show_labels": True,
            "label_type": "key_value",
            "show_legend": True,
            "sort_by_metric": True,
            "number_format": ",d",
        },
    ),
    Chart(
        "Revenue, last 15 minutes",
        "orders",
        "big_number_total",
        row=2,
        width=3,
        height=45,
        metrics=(ORDER_REVENUE,),
        time_column="created_at",
        time_range=LAST_15_MINUTES,
        options={
            "subtitle": "sum of amount (VND+USD+EUR)",
            "subtitle_font_size": 0.15,
            "y_axis_format": ",.2f",
            "header_font_size": 0.3,
        },
    ),
    Chart(
        "Latest late events",
        "late_events",
        "table",
        row=2,
        width=5,
        height=45,
        columns=("order_id", "created_at", "window_start", "watermark", "lateness_seconds", "processed_at"),
        orderby=(("processed_at", False), ("event_id", False)),
        row_limit=200,
        options={
            "table_timestamp_format": "%H:%M:%S",
            "show_cell_bars": False,
            "column_config": {
                "order_id": {"customColumnName": "order"},
                "created_at": {"customColumnName": "event time"},
                "window_start": {"customColumnName": "its window"},
                "watermark": {"customColumnName": "watermark then"},
                "lateness_seconds": {"customColumnName": "late by (s)", "d3NumberFormat": ",.1f"},
                "processed_at": {"customColumnName": "processed"},
            },
        },
    ),
    Chart(
        "Application orders now, by status (CDC mirror)",
        "orders_cdc",
        "pie",
        row=3,
        width=8,
        height=45,
        metrics=(ORDER_COUNT,),
        groupby=("status",),
        orderby=((ORDER_COUNT, False),),
        options={
            "show_labels": True,
            "label_type": "key_value",
            "show_legend": True,
            "sort_by_metric": True,
            "number_format": ",d",
        },
    ),
    Chart(
        "Orders per minute: DuckDB, Flink, Spark",
        "orders_per_minute_engines",
        "echarts_timeseries_line",
        row=4,
        width=12,
        height=40,
        metrics=ENGINE_ORDERS,
        x_axis="window_start",
        time_column="window_start",
        time_range=LAST_HOUR,
        options={**per_minute("orders / min", "event time", ",d"), "show_legend": True},
    ),
    Chart(
        "Mirror replication lag p95, last 5 minutes",
        "orders_cdc_lag",
        "big_number_total",
        row=3,
        width=4,
        height=45,
        metrics=(MIRROR_LAG_P95,),
        options={
            "subtitle": "seconds from the application's commit to app.orders_cdc",
            "subtitle_font_size": 0.15,
            "y_axis_format": ",.2f",
            "header_font_size": 0.3,
        },
    ),
)


def layout(chart_ids: dict[str, int]) -> dict:
    """The dashboard's position_json: one ROW per chart row, charts left to right in CHARTS order."""
    rows = sorted({chart.row for chart in CHARTS})
    position: dict = {
        "DASHBOARD_VERSION_KEY": "v2",
        "ROOT_ID": {"type": "ROOT", "id": "ROOT_ID", "children": ["GRID_ID"]},
        "GRID_ID": {"type": "GRID", "id": "GRID_ID", "children": [f"ROW-{r}" for r in rows], "parents": ["ROOT_ID"]},
        "HEADER_ID": {"type": "HEADER", "id": "HEADER_ID", "meta": {"text": DASHBOARD_TITLE}},
    }
    for r in rows:
        position[f"ROW-{r}"] = {
            "type": "ROW",
            "id": f"ROW-{r}",
            "children": [],
            "parents": ["ROOT_ID", "GRID_ID"],
            "meta": {"background": "BACKGROUND_TRANSPARENT"},
        }
    for chart in CHARTS:
        key = f"CHART-{chart_ids[chart.name]}"
        position[f"ROW-{chart.row}"]["children"].append(key)
        position[key] = {
            "type": "CHART",
            "id": key,
            "children": [],
            "parents": ["ROOT_ID", "GRID_ID", f"ROW-{chart.row}"],
            "meta": {
                "chartId": chart_ids[chart.name],
                "width": chart.width,
                "height": chart.height,
                "sliceName": chart.name,
            },
        }
    return position


def json_metadata() -> dict:
    """The dashboard's json_metadata: refresh every REFRESH_SECONDS, no cross-filters."""
    return {
        "refresh_frequency": REFRESH_SECONDS,
        "timed_refresh_immune_slices": [],
        "expanded_slices": {},
        "color_scheme": "",
        "label_colors": {},
        "shared_label_colors": [],
        "native_filter_configuration": [],
        "cross_filters_enabled": False,
    }
