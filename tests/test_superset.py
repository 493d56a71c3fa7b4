"""The dashboard "Orders Realtime" on the real Superset, over real model output in its own database.

The module provisions a copy of the dashboard (its own database connection, datasets, charts and slug) over a
sandbox database the real models filled, so the dev dashboard and de_db are left alone; everything is deleted
afterwards."""

from __future__ import annotations

import random
import re
import uuid
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import prison
import pytest
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.support.wait import WebDriverWait

from assets.dashboards import spec
from assets.dashboards.provision import MissingTableError, Provisioned, Target, provision
from infra.stack import stack
from infra.stack.config import REPO_ROOT
from infra.stack.sandbox import sandbox
from resources.settings import setting
from resources.superset import SupersetClient, SupersetError, SupersetResource
from tests.support.browser import headless_chromium
from tests.support.lake import Lake, order_change
from tests.support.lake import order_event as _event

pytestmark = pytest.mark.superset
KINDS = ("database", "dataset", "chart", "dashboard")
STATUSES = ("created", "paid", "shipped", "cancelled")


@pytest.fixture(scope="module")
def superset(resources: dict, cfg) -> SupersetResource:
    """The platform's Superset resource; fails with instructions when Superset is not up."""
    rows = {r.service: r for r in stack.status(cfg)}
    if "superset" not in rows or not rows["superset"].healthy:
        pytest.fail("superset is not healthy — run `lakehouse up --with superset` (see `lakehouse logs superset`)")
    return resources["superset"]


def _orders(now: datetime) -> dict[datetime, list[dict]]:
    """Orders over the 50 minutes before `now`, 4 to 14 a minute with amounts of 5 to 500, grouped by the time
    bronze landed them: in micro-batches every 30 s, 15 to 55 s after they happened (so before `now`)."""
    rng, batches, serial = random.Random(14), defaultdict(list), 0
    start = now.replace(second=0, microsecond=0) - timedelta(minutes=51)
    for minute in range(50):
        for _ in range(4 + (minute * 7) % 11):
            at = start + timedelta(minutes=minute, seconds=rng.uniform(0, 59))
            landed = at + timedelta(seconds=15 + 10 * (serial % 5))
            landed = landed.replace(second=landed.second // 30 * 30, microsecond=0)
            batches[landed].append(
                _event(f"o-{serial}", STATUSES[serial % 4], at, amount=round(rng.uniform(5, 500), 2))
            )
            serial += 1
    return batches


def _changes(now: datetime) -> list[tuple[str, dict | None]]:
    """The application's last minute through CDC, as (order id, change): 40 orders created, half of them moved on a
    status, 5 deleted (each delete followed by its tombstone)."""
    changes, lsn = [], 10_000
    rows = [
        {
            "order_id": f"a-{i}",
            "customer_id": "c-1",
            "status": "created",
            "amount": "12.50",
            "currency": "EUR",
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
        }
        for i in range(40)
    ]
    for i, row in enumerate(rows):
        changes.append((row["order_id"], order_change("c", row, lsn := lsn + 100, now - timedelta(seconds=60 - i))))
    for i, row in enumerate(rows[:20]):
        rows[i] = {**row, "status": STATUSES[1 + i % 3]}
        changes.append(
            (
                row["order_id"],
                order_change("u", rows[i], lsn := lsn + 100, now - timedelta(seconds=20 - i / 2), before=row),
            )
        )
    for row in rows[-5:]:
        changes += [
            (row["order_id"], order_change("d", row, lsn := lsn + 100, now - timedelta(seconds=5), before=row)),
            (row["order_id"], None),
        ]
    return changes


@pytest.fixture(scope="module")
def sandboxed(resources: dict, cfg):
    """A sandbox database filled by the real models: orders over the last 50 minutes, then 25 late events."""
    with sandbox(cfg, resources["object_store"], resources["postgres"], prefix="test_superset") as (store, postgres):
        lake, now = Lake(store, postgres), datetime.now(timezone.utc)  # not test_models.NOW: set at collection
        for processed_at, events in sorted(_orders(now).items()):
            lake.land(events, processed_at=processed_at)
        lake.run_all()
        lake.land(
            [_event(f"late-{i}", "paid", now - timedelta(minutes=55, seconds=i)) for i in range(25)], processed_at=now
        )
        lake.land_changes(_changes(now), processed_at=now)
        lake.run_all()
        yield postgres


def _target(tag: str) -> Target:
    return Target(
        database_name=f"Postgres App ({tag})",
        dashboard_title=f"Orders Realtime ({tag})",
        dashboard_slug=f"orders-realtime-{tag}",
    )


def _delete(client: SupersetClient, done: Provisioned) -> None:
    for chart in done.charts.values():
        client.request("DELETE", f"chart/{chart}")
    if done.dashboard:
        client.request("DELETE", f"dashboard/{done.dashboard}")
    for dataset in done.datasets.values():
        client.request("DELETE", f"dataset/{dataset}")
    if done.database:
        client.request("DELETE", f"database/{done.database}")


@pytest.fixture(scope="module")
def provisioned(superset: SupersetResource, sandboxed):
    """The dashboard's copy over the sandbox database: (client, ids, target)."""
    client, target = superset.client(), _target(uuid.uuid4().hex[:8])
    done = provision(client, sandboxed.url, target)
    yield client, done, target, sandboxed
    _delete(client, done)


def _counts(client: SupersetClient) -> dict[str, int]:
    return {
        kind: client.request("GET", f"{kind}/", params={"q": prison.dumps({"page_size": 1})})["count"] for kind in KINDS
    }


def test_provisioning_twice_creates_nothing_twice(provisioned):
    client, first, target, sandboxed = provisioned
    assert len(first.created) == 1 + len(spec.DATASETS) + len(spec.CHARTS) + 1, first.created
    before = _counts(client)
    again = provision(client, sandboxed.url, target)
    assert again.created == [] and again.detached == []
    assert (again.database, again.datasets, again.charts, again.dashboard) == (
        first.database,
        first.datasets,
        first.charts,
        first.dashboard,
    )
    assert _counts(client) == before
    dashboard = client.request("GET", f"dashboard/{first.dashboard}")["result"]
    assert dashboard["dashboard_title"] == target.dashboard_title
    assert '"refresh_frequency": 30' in dashboard["json_metadata"]
    assert {c["id"] for c in client.request("GET", f"dashboard/{first.dashboard}/charts")["result"]} == set(
        first.charts.values()
    )


def _ms(value: object) -> object:
    """Postgres values the way Superset's JSON carries them: times as epoch milliseconds, numbers as floats."""
    if isinstance(value, datetime):
        return value.timestamp() * 1000
    return float(value) if isinstance(value, (Decimal, int)) and not isinstance(value, bool) else value


# Chart name -> the SQL that answers the same question over [%(start)s, %(end)s), straight from Postgres.
def _per_minute(column: str, table: str) -> str:
    return (
        f"SELECT window_start, sum({column}) FROM app.{table} "
        "WHERE window_start >= %(start)s AND window_start < %(end)s GROUP BY 1 ORDER BY 1"
    )


EXPECTED = {
    "Orders per minute (event time)": _per_minute("orders", "orders_per_minute"),
    "Orders per minute (processing time)": _per_minute("orders", "orders_per_minute_processing"),
    "Revenue per minute (event time)": _per_minute("revenue", "orders_per_minute"),
    "Revenue per minute (processing time)": _per_minute("revenue", "orders_per_minute_processing"),
    "Orders by status, last hour": (
        "SELECT status, count(*) FROM app.orders_recent WHERE created_at >= %(start)s AND created_at < %(end)s "
        "GROUP BY 1 ORDER BY 2 DESC, 1"
    ),
    "Revenue, last 15 minutes": (
        "SELECT sum(amount) FROM app.orders WHERE created_at >= %(start)s AND created_at < %(end)s"
    ),
    "Latest late events": "SELECT order_id, created_at, window_start, watermark, lateness_seconds, processed_at "
    "FROM app.late_events ORDER BY processed_at DESC, event_id DESC LIMIT 200",
    "Application orders now, by status (CDC mirror)": (
        "SELECT status, count(*) FROM app.orders_cdc GROUP BY 1 ORDER BY 2 DESC, 1"
    ),
    "Mirror replication lag p95, last 5 minutes": "SELECT max(lag_p95_s) FROM app.orders_cdc_lag",
    "Orders per minute: DuckDB, Flink, Spark": (
        "SELECT window_start, sum(duckdb), sum(flink), sum(spark) FROM app.orders_per_minute_engines "
        "WHERE window_start >= %(start)s AND window_start < %(end)s GROUP BY 1 ORDER BY 1"
    ),
}


def test_every_chart_returns_what_postgres_returns_for_the_same_window(provisioned):
    client, done, _, sandboxed = provisioned
    assert set(EXPECTED) == {chart.name for chart in spec.CHARTS}
    for name, chart_id in done.charts.items():
        result = client.request("GET", f"chart/{chart_id}/data/")["result"][0]
        assert result["error"] is None, (name, result["error"])
        window = {
            key: datetime.fromtimestamp((result[f"{key}_dttm"] or 0) / 1000, timezone.utc) for key in ("from", "to")
        }
        with sandboxed.connect() as conn:
            expected = conn.execute(EXPECTED[name], {"start": window["from"], "end": window["to"]}).fetchall()
        got = [tuple(row.values()) for row in result["data"]]
        if "by status" in name:  # equal counts may come in either order
            got, expected = sorted(got), sorted(expected)
        assert got == [tuple(map(_ms, row)) for row in expected], name
    # The sandbox data reaches every chart: no chart passes by being empty.
    sizes = {
        name: client.request("GET", f"chart/{i}/data/")["result"][0]["rowcount"] for name, i in done.charts.items()
    }
    assert sizes["Latest late events"] == 25 and sizes["Orders by status, last hour"] == 4, sizes
    assert sizes["Application orders now, by status (CDC mirror)"] == 4, sizes  # created, paid, shipped, cancelled
    assert min(sizes.values()) >= 1, sizes
    # Processing time is a clock of its own: the micro-batches spread over the hour, not one window.
    assert sizes["Orders per minute (processing time)"] >= 40, sizes


def test_counts_and_money_never_share_an_axis_and_every_axis_names_its_unit():
    for chart in spec.CHARTS:
        if chart.x_axis:
            engines = chart.metrics == spec.ENGINE_ORDERS  # one measure, one series per engine
            assert engines or len(chart.metrics) == 1, (
                f"{chart.name}: one measure per chart, so each gets its own scale"
            )
            assert chart.options["y_axis_title"], chart.name
            unit = "orders / min" if engines or chart.metrics[0] is spec.ORDERS else spec.REVENUE_UNIT
            assert chart.options["y_axis_title"] == unit, chart.name


def test_a_chart_the_spec_does_not_name_is_taken_off_the_dashboard(provisioned):
    client, done, target, sandboxed = provisioned
    stray = client.request(
        "POST",
        "chart/",
        json={
            "slice_name": f"stray {uuid.uuid4().hex[:6]}",
            "viz_type": "table",
            "datasource_type": "table",
            "datasource_id": done.datasets["orders"],
            "dashboards": [done.dashboard],
        },
    )["id"]

    def on_dashboard() -> set[int]:
        return {c["id"] for c in client.request("GET", f"dashboard/{done.dashboard}/charts")["result"]}

    try:
        assert stray in on_dashboard()
        again = provision(client, sandboxed.url, target)
        assert stray not in on_dashboard() and on_dashboard() == set(done.charts.values())
        assert len(again.detached) == 1 and again.detached[0].startswith("stray"), again.detached
    finally:
        client.request("DELETE", f"chart/{stray}")


def test_a_missing_table_names_the_model_that_creates_it(superset, resources, cfg):
    client = superset.client()
    target = _target("missing-" + uuid.uuid4().hex[:8])
    with sandbox(cfg, resources["object_store"], resources["postgres"], prefix="test_superset") as (_, empty):
        with pytest.raises(MissingTableError) as error:
            provision(client, empty.url, target)
    database = client.find("database", {"database_name": target.database_name})
    _delete(client, Provisioned(database=database[0]["id"]))
    missing = re.findall(r"table app\.(\w+) does not exist yet", str(error.value))
    assert missing, error.value
    for table in missing:
        assert f"created by the model {spec.DATASETS[table]}" in str(error.value)


def test_bad_credentials_and_unreachable_superset_say_so(superset):
    wrong = SupersetResource(
        url=superset.url, username=superset.username, password="not-the-password", database_uri="postgresql://unused"
    )
    with pytest.raises(SupersetError, match="refused the credentials of user"):
        wrong.client()
    nowhere = SupersetResource(url="http://127.0.0.1:1", username="u", password="p", database_uri="postgresql://x")
    with pytest.raises(SupersetError, match=r"unreachable at http://127.0.0.1:1 .*lakehouse up --with superset"):
        nowhere.client()


def test_errors_mask_the_password_and_the_database_uri_password(superset):
    """Superset echoes a filter's column name in its error: make it the secret and read the message."""
    echoed = f"leak-{uuid.uuid4().hex}"
    resource = SupersetResource(
        url=superset.url,
        username=setting("SUPERSET_ADMIN_USER"),
        password=setting("SUPERSET_ADMIN_PASSWORD"),
        database_uri=f"postgresql://de_user:{echoed}@127.0.0.1:5432/de_db",
    )
    for column in (echoed, resource.password):
        with pytest.raises(SupersetError) as error:
            resource.client().find("dataset", {column: 1})
        assert error.value.status == 400 and "not allowed to filter" in str(error.value), error.value
        assert column not in str(error.value), error.value
    unmasked = SupersetClient(superset.url, 30)
    unmasked.login(resource.username, resource.password)
    with pytest.raises(SupersetError, match=echoed):  # the echo is real: without secrets the message carries it
        unmasked.find("dataset", {echoed: 1})


SCREENSHOT = REPO_ROOT / "tests" / "artifacts" / "orders_realtime.png"


@pytest.fixture
def browser():
    """Debian's headless chromium (tests/support/browser.py)."""
    session = headless_chromium(1600, 1400)
    yield session
    session.quit()


def _chart_state(holder) -> str:
    """'ok', or what is wrong with one rendered chart holder of the dashboard."""
    from selenium.webdriver.common.by import By

    text = holder.text
    if holder.find_elements(By.CSS_SELECTOR, ".ant-alert-error, [role=alert]") or "error" in text.lower():
        return f"error: {text[:300]!r}"
    if holder.find_elements(By.CSS_SELECTOR, "[data-test=loading-indicator], .loading"):
        return "still loading"
    if "No results" in text or "No data" in text:
        return f"empty: {text[:200]!r}"
    drawn = holder.find_elements(
        By.CSS_SELECTOR,
        "[data-test=slice-container] canvas, "
        "[data-test=slice-container] table tbody tr, "
        "[data-test=slice-container] .header-line",
    )
    return "ok" if drawn else f"nothing drawn: {text[:200]!r}"


@pytest.mark.browser
def test_a_browser_sees_every_chart_rendered(provisioned, superset, browser):
    from selenium.webdriver.common.by import By

    _, done, target, _ = provisioned
    browser.get(f"{superset.url}/login/")
    WebDriverWait(browser, 30).until(lambda b: b.find_elements(By.ID, "username"))
    browser.find_element(By.ID, "username").send_keys(superset.username)
    browser.find_element(By.ID, "password").send_keys(superset.password)
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(browser, 30).until(lambda b: "/login" not in b.current_url)
    browser.get(f"{superset.url}/superset/dashboard/{target.dashboard_slug}/")
    states: dict[str, str] = {}

    def all_rendered(b) -> bool:
        holders = b.find_elements(By.CSS_SELECTOR, "[data-test=chart-grid-component]")
        states.clear()
        states.update(
            {h.find_element(By.CSS_SELECTOR, "[data-test=editable-title]").text: _chart_state(h) for h in holders}
        )
        return len(states) == len(done.charts) and all(s == "ok" for s in states.values())

    try:
        WebDriverWait(browser, 60, poll_frequency=1).until(all_rendered)
    except TimeoutException:
        pass
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOT))
    assert states == {name: "ok" for name in done.charts}, f"{states} (screenshot: {SCREENSHOT})"
