"""The Dagster UI as a person sees it in a browser: the asset graph draws the lineage from the Kafka topics through
bronze, silver and the Postgres models to the dashboard, and the automation page shows the sensors running.

The test starts its own dagster-webserver on a free port with a throw-away DAGSTER_HOME (SQLite; no daemon: the
graph and the sensors' status come from the code location and the instance). GraphQL only says what to expect;
the assertions read the rendered page. The graph grows while the project does, so the test asserts the lineage
path and what GraphQL says, never a fixed list of nodes.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.wait import WebDriverWait

from infra.stack.config import REPO_ROOT
from tests.support.browser import headless_chromium
from tests.support.ports import free_port

pytestmark = pytest.mark.browser
ARTIFACTS = REPO_ROOT / "tests" / "artifacts"
LOAD_TIMEOUT = 240  # seconds for the webserver to answer and load the code location on a busy machine
RENDER_TIMEOUT = 60  # seconds for a page to draw what GraphQL says it should
# The layers an order crosses, in order: asset groups of the graph; then the dashboard's group (its asset is the one
# of kind "superset").
LAYERS = ("kafka", "bronze", "silver", "app")
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Webserver:
    """dagster-webserver for workspace.yaml on 127.0.0.1:`port`, its output in `log`."""

    def __init__(self, home: Path, port: int) -> None:
        self.url, self.log = f"http://127.0.0.1:{port}", home / "webserver.log"
        (home / "dagster.yaml").write_text("")  # the default instance: SQLite under DAGSTER_HOME
        executable = Path(sys.executable).with_name("dagster-webserver")
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [str(executable), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
                cwd=REPO_ROOT,
                env={**os.environ, "DAGSTER_HOME": str(home)},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def graphql(self, query: str) -> dict:
        """The `data` of a GraphQL answer; an AssertionError with the errors if there are any."""
        request = urllib.request.Request(
            f"{self.url}/graphql",
            data=json.dumps({"query": query}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with _NO_PROXY.open(request, timeout=30) as response:
            answer = json.load(response)
        assert not answer.get("errors"), answer["errors"]
        return answer["data"]

    def wait_loaded(self) -> None:
        """Until the code location is loaded; fail with its error or the log's tail."""
        query = """{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus
                     locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
        deadline = time.monotonic() + LOAD_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"dagster-webserver exited with {self.process.returncode}:\n{self.tail()}")
            try:
                entries = self.graphql(query)["workspaceOrError"]["locationEntries"]
            except OSError:
                entries = []
            errors = [
                e["locationOrLoadError"]
                for e in entries
                if e["locationOrLoadError"] and e["locationOrLoadError"]["__typename"] == "PythonError"
            ]
            if errors:
                pytest.fail(f"the code location failed to load: {errors[0]['message']}")
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                return
            time.sleep(1)
        pytest.fail(f"dagster-webserver did not load workspace.yaml within {LOAD_TIMEOUT} s:\n{self.tail()}")

    def tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])

    def stop(self) -> None:
        """SIGTERM to its process group (the webserver and its code server), SIGKILL after 20 s."""
        for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.process.pid, sig)
                self.process.wait(wait)
                return
            except ProcessLookupError:
                return
            except subprocess.TimeoutExpired:
                continue


@pytest.fixture(scope="module")
def webserver(tmp_path_factory):
    server = Webserver(tmp_path_factory.mktemp("dagster_home"), free_port())
    try:
        server.wait_loaded()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser(webserver):
    """Debian's headless chromium, with Dagster's first-visit community dialog dismissed (it covers the page)."""
    session = headless_chromium(1800, 1600)
    session.get(f"{webserver.url}/server_info")  # same origin, so the setting below is the UI's
    session.execute_script("localStorage.setItem('communityNux', JSON.stringify('1'))")
    yield session
    session.quit()


# --- what GraphQL says the graph holds ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    groups: dict[str, str]  # asset key "a/b" -> its group
    edges: set[tuple[str, str]]  # (upstream key, downstream key)
    lineage: tuple[str, ...]  # the groups a path from a topic to the dashboard crosses, in order


@pytest.fixture(scope="module")
def expected(webserver) -> Expected:
    nodes = webserver.graphql("{ assetNodes { assetKey { path } groupName kinds dependencyKeys { path } } }")
    nodes = nodes["assetNodes"]
    groups = {"/".join(n["assetKey"]["path"]): n["groupName"] for n in nodes}
    edges = {("/".join(d["path"]), "/".join(n["assetKey"]["path"])) for n in nodes for d in n["dependencyKeys"]}
    dashboards = {n["groupName"] for n in nodes if "superset" in n["kinds"]}
    assert len(dashboards) == 1, f"expected the dashboard asset (kind superset) in one group: {dashboards}"
    return Expected(groups, edges, (*LAYERS, *dashboards))


def test_graphql_has_the_lineage_the_page_must_draw(expected):
    """The premise of the browser test: a path kafka -> bronze -> silver -> app -> dashboard exists."""
    assert _layer_paths(expected.edges, expected.groups, expected.lineage), (
        f"no {' -> '.join(expected.lineage)} path in {expected.edges}"
    )
    assert {"kafka/orders", "kafka/lab_events"} <= set(expected.groups), sorted(expected.groups)


def _layer_paths(edges: set[tuple[str, str]], group: dict[str, str], lineage: tuple[str, ...]) -> list[list[str]]:
    """Every path whose nodes' groups are `lineage` in order (one node per layer, but app models may chain)."""
    downstream = defaultdict(set)
    for up, down in edges:
        downstream[up].add(down)
    paths, stack = [], [[node] for node in group if group[node] == lineage[0]]
    while stack:
        path = stack.pop()
        layer = lineage.index(group[path[-1]])
        if layer == len(lineage) - 1:
            paths.append(path)
            continue
        for nxt in downstream[path[-1]]:
            if group.get(nxt) in lineage[layer : layer + 2] and nxt not in path:
                stack.append([*path, nxt])
    return paths


# --- what the page draws ------------------------------------------------------------------------------------------

_DRAWN = """
const svg = document.querySelector('svg[class*=svgContainer]');
if (!svg) return null;
const box = f => ({x: +f.getAttribute('x'), y: +f.getAttribute('y'), w: +f.getAttribute('width'),
                   h: +f.getAttribute('height')});
const kids = Array.from(svg.children);
return {
  groups: kids.filter(f => f.tagName === 'foreignObject' && f.classList.contains('group'))
              .map(f => ({...box(f), name: f.textContent.trim()})),
  nodes: kids.filter(f => f.tagName === 'foreignObject' && f.querySelector('[class*=assetName]'))
             .map(f => ({...box(f), name: f.querySelector('[class*=assetName]').textContent.trim()})),
  edges: kids.filter(p => p.tagName === 'path').map(p => p.getAttribute('d')),
};
"""


@dataclass(frozen=True)
class Drawn:
    count: int  # asset nodes drawn
    nodes: dict[str, tuple[float, float, float, float]]  # "group/label" -> x, y, width, height
    edges: list[tuple[float, float, float, float]]  # x1, y1, x2, y2 of each drawn edge

    def node_at(self, x: float, y: float, slack: float = 24) -> str | None:
        for name, (nx, ny, w, h) in self.nodes.items():
            if nx - slack <= x <= nx + w + slack and ny - slack <= y <= ny + h + slack:
                return name
        return None

    def edge_names(self) -> set[tuple[str | None, str | None]]:
        return {(self.node_at(x1, y1), self.node_at(x2, y2)) for x1, y1, x2, y2 in self.edges}


def _read_graph(raw: dict) -> Drawn:
    """Name each drawn node group/label by the group box it lies in; reduce each edge to its two ends."""
    nodes = {}
    for node in raw["nodes"]:
        inside = [
            g
            for g in raw["groups"]
            if g["x"] <= node["x"]
            and node["x"] + node["w"] <= g["x"] + g["w"]
            and g["y"] <= node["y"]
            and node["y"] + node["h"] <= g["y"] + g["h"]
        ]
        group = min(inside, key=lambda g: g["w"] * g["h"])["name"] if inside else "?"
        nodes[f"{group}/{node['name']}"] = (node["x"], node["y"], node["w"], node["h"])
    edges = []
    for d in raw["edges"]:
        numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", d)]
        edges.append((numbers[0], numbers[1], numbers[-2], numbers[-1]))
    return Drawn(len(raw["nodes"]), nodes, edges)


def _label(key: str, group: str) -> str:
    """How the page names an asset: group/last part of its key."""
    return f"{group}/{key.rsplit('/', 1)[-1]}"


def test_the_asset_graph_draws_the_lineage_from_the_kafka_topics_to_the_dashboard(webserver, browser, expected):
    browser.get(f"{webserver.url}/asset-groups")
    WebDriverWait(browser, RENDER_TIMEOUT).until(
        lambda b: b.execute_script(_DRAWN), "the global asset graph did not render"
    )
    # Groups start collapsed; the UI's own "Expand all groups" (Alt+E) opens them.
    ActionChains(browser).key_down(Keys.ALT).send_keys("e").key_up(Keys.ALT).perform()
    wanted = {_label(key, group) for key, group in expected.groups.items()}
    drawn = Drawn(0, {}, [])

    def complete(b) -> bool:
        nonlocal drawn
        raw = b.execute_script(_DRAWN)
        drawn = _read_graph(raw) if raw else Drawn(0, {}, [])
        return drawn.count == len(expected.groups) and len(drawn.edges) == len(expected.edges)

    try:
        WebDriverWait(browser, RENDER_TIMEOUT, poll_frequency=1).until(complete)
    except TimeoutException:
        pass
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / "dagster_asset_graph.png"))
    shot = ARTIFACTS / "dagster_asset_graph.png"
    visible = set(drawn.nodes)
    # Labels are cut with "…" when long: compare those by their start and end.
    missing = {w for w in wanted if w not in visible and not any(_same_label(w, v) for v in visible)}
    assert not missing, f"assets not drawn: {sorted(missing)}; drawn: {sorted(visible)} (screenshot: {shot})"
    assert len(drawn.edges) == len(expected.edges), (
        f"{len(drawn.edges)} edges drawn, GraphQL has {len(expected.edges)} (screenshot: {shot})"
    )
    # The lineage path, read from the drawing alone: every edge's ends are the nodes under them.
    drawn_edges = drawn.edge_names()
    groups = {name: name.split("/", 1)[0] for name in drawn.nodes}
    paths = _layer_paths({e for e in drawn_edges if None not in e}, groups, expected.lineage)
    assert paths, (
        f"no drawn path {' -> '.join(expected.lineage)}; drawn edges: {sorted(map(str, drawn_edges))} "
        f"(screenshot: {shot})"
    )
    assert any(p[0] == "kafka/orders" and p[1] == "bronze/orders" and p[2] == "silver/orders" for p in paths), paths
    assert ("kafka/lab_events", "bronze/lab_events") in drawn_edges, sorted(map(str, drawn_edges))


def _same_label(full: str, shown: str) -> bool:
    if "…" not in shown:
        return False
    head, tail = shown.split("…", 1)
    return full.startswith(head) and full.endswith(tail) and full.split("/")[0] == shown.split("/")[0]


def test_the_automation_page_shows_the_sensors_running(webserver, browser):
    repositories = webserver.graphql("""{ repositoriesOrError { ... on RepositoryConnection { nodes {
        sensors { name sensorState { status } } } } } }""")["repositoriesOrError"]["nodes"]
    expected = {s["name"]: s["sensorState"]["status"] == "RUNNING" for repo in repositories for s in repo["sensors"]}
    assert expected.get("bronze_orders_sensor") and expected.get("bronze_lab_events_sensor"), expected
    shot = ARTIFACTS / "dagster_automation.png"
    browser.get(f"{webserver.url}/automation")
    shown: dict[str, bool | None] = {}  # sensor -> its row's switch is on (None: no row, or no switch in it)

    def read(b) -> bool:
        shown.clear()
        for name in expected:
            links = b.find_elements(By.CSS_SELECTOR, f'a[href$="/sensors/{name}"]')
            switch = (
                links[0].find_elements(By.XPATH, "ancestor::*[@data-index][1]//label[contains(@class, 'Switch')]/input")
                if links
                else []
            )
            shown[name] = switch[0].is_selected() if switch else None
        return shown == expected

    try:
        WebDriverWait(
            browser, RENDER_TIMEOUT, poll_frequency=1, ignored_exceptions=(StaleElementReferenceException,)
        ).until(read)  # the list re-renders
    except TimeoutException:
        pass
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(shot))
    assert shown == expected, f"switches on the page {shown} != running per GraphQL {expected} (screenshot: {shot})"
    # A sensor's own page says it in words.
    browser.find_element(By.CSS_SELECTOR, 'a[href$="/sensors/bronze_orders_sensor"]').click()
    try:
        WebDriverWait(browser, RENDER_TIMEOUT).until(lambda b: "Running" in b.find_element(By.TAG_NAME, "body").text)
    except TimeoutException:
        browser.save_screenshot(str(shot))
        pytest.fail(f"the page of bronze_orders_sensor does not say Running (screenshot: {shot})")
