"""`dagster dev` as real subprocesses on a private instance, for tests and benchmarks that need the daemon, the
webserver and run workers (kill -9, restarts, queue latency).

    with private_dagster(cfg, "tests.support.probe_location") as dagster:   # cfg: infra.stack.config.StackConfig
        dagster.start()                              # waits until GraphQL answers and the code location loaded
        run_id = dagster.launch("sleeper", run_config={...}, tags={...})
        dagster.wait_for(run_id, {"STARTED"})        # -> Run(run_id, job, status, created, started, ended, tags)
        dagster.kill()                               # kill -9 of everything it started (host death)
        dagster.start()                              # the same instance again
        dagster.runs(job="sleeper")                  # newest first
        dagster.stop()                               # SIGINT as Ctrl-C sends it, then kill -9 after a timeout

`private_dagster` creates a throw-away database on the stack's Postgres, writes a DAGSTER_HOME whose dagster.yaml is
infra/dagster/dagster.yaml (deep-merged with `instance_overrides`) pointing at it, and a workspace that loads
`module`; on exit it kills whatever is left and drops the database. The processes get `env` on top of this
process's environment: to load the platform itself (module "orchestration.definitions") without touching the
shared stack's data, pass `isolated_platform_env(...)` (own topics, bucket and database). Every process it starts
carries a marker in its environment, so `processes()` finds exactly them (run workers and code servers included),
never another agent's Dagster. `DagsterApi(url)` alone talks to any webserver (say one infra/dev.sh started).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from infra.stack import stack
from infra.stack.config import REPO_ROOT, StackConfig
from tests.support.ports import free_port

MARKER = "LAKEHOUSE_DAGSTER_DEV_ID"
_RUN_FIELDS = "runId jobName status creationTime startTime endTime tags { key value }"


@dataclass(frozen=True)
class Run:
    """A run as the GraphQL API reports it (times in epoch seconds; None until they happen)."""

    run_id: str
    job: str
    status: str
    created: float
    started: float | None
    ended: float | None
    tags: dict[str, str]

    @staticmethod
    def of(data: dict) -> Run:
        return Run(
            data["runId"],
            data["jobName"],
            data["status"],
            data["creationTime"],
            data["startTime"],
            data["endTime"],
            {t["key"]: t["value"] for t in data["tags"]},
        )


def interrupted_worker() -> None:
    """A fork-server worker's body for the tests: Ctrl-C at once, then exit 0 if the interrupt was held for
    Dagster to raise at the run's first step boundary, 1 if it was not."""
    from dagster._utils.interrupts import pop_captured_interrupt

    signal.raise_signal(signal.SIGINT)
    sys.exit(0 if pop_captured_interrupt() else 1)


def marked_processes(marker: str) -> list[int]:
    """Pids of live (non-zombie) processes whose environment carries MARKER=marker."""
    needle = f"{MARKER}={marker}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if (
                needle in (entry / "environ").read_bytes().split(b"\0")
                and (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
            ):
                found.append(int(entry.name))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


def _merge(base: dict, overrides: dict) -> dict:
    out = dict(base)
    for key, value in overrides.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


class DagsterApi:
    """The GraphQL API of a running Dagster webserver (any: DagsterDev's, or one infra/dev.sh started)."""

    def __init__(self, url: str, location: str = "lakehouse"):
        self.url, self.location = url, location

    def ready(self) -> bool:
        """The code location is loaded and the run queue and sensor daemons are healthy (False while the
        webserver does not answer; RuntimeError when the location failed to load)."""
        try:
            data = self.graphql(
                """{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus
                locationOrLoadError { __typename ... on PythonError { message } } } } }
                instance { daemonHealth { allDaemonStatuses { daemonType healthy } } } }""",
                timeout=5,
            )
        except OSError:
            return False
        entries = {e["name"]: e for e in data["workspaceOrError"]["locationEntries"]}
        entry = entries.get(self.location)
        if entry and entry["locationOrLoadError"] and entry["locationOrLoadError"]["__typename"] == "PythonError":
            raise RuntimeError(
                f"code location {self.location} failed to load: {entry['locationOrLoadError']['message']}"
            )
        daemons = data["instance"]["daemonHealth"]["allDaemonStatuses"]
        return bool(
            entry
            and entry["loadStatus"] == "LOADED"
            and daemons
            and all(d["healthy"] for d in daemons if d["daemonType"] in ("QUEUED_RUN_COORDINATOR", "SENSOR"))
        )

    def graphql(self, query: str, variables: dict | None = None, timeout: float = 30) -> dict:
        """POST a GraphQL query; its `data` (GraphQL errors raise)."""
        request = urllib.request.Request(
            f"{self.url}/graphql",
            method="POST",
            data=json.dumps({"query": query, "variables": variables or {}}).encode(),
            headers={"Content-Type": "application/json"},
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=timeout) as response:
            body = json.loads(response.read())
        if body.get("errors"):
            raise RuntimeError(f"GraphQL errors: {body['errors']}")
        return body["data"]

    def launch(self, job: str, run_config: dict | None = None, tags: dict[str, str] | None = None) -> str:
        """Launch `job` of the location (through the run queue, as the UI does); its run id."""
        data = self.graphql(
            """mutation($p: ExecutionParams!) { launchRun(executionParams: $p) { __typename
            ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
            ... on RunConfigValidationInvalid { errors { message } } } }""",
            {
                "p": {
                    "selector": {
                        "repositoryLocationName": self.location,
                        "repositoryName": "__repository__",
                        "jobName": job,
                    },
                    "runConfigData": run_config or {},
                    "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]},
                }
            },
        )["launchRun"]
        if data["__typename"] != "LaunchRunSuccess":
            raise RuntimeError(f"launching {job} failed: {data}")
        return data["run"]["runId"]

    def runs(self, job: str | None = None, limit: int = 1000) -> list[Run]:
        """The instance's runs (of `job`), newest first."""
        data = self.graphql(
            f"""query($f: RunsFilter, $n: Int) {{ runsOrError(filter: $f, limit: $n) {{
            ... on Runs {{ results {{ {_RUN_FIELDS} }} }} }} }}""",
            {"f": {"pipelineName": job} if job else {}, "n": limit},
        )
        return [Run.of(r) for r in data["runsOrError"]["results"]]

    def run(self, run_id: str) -> Run:
        """One run."""
        data = self.graphql(
            f"""query($id: ID!) {{ runOrError(runId: $id) {{ __typename
            ... on Run {{ {_RUN_FIELDS} }} }} }}""",
            {"id": run_id},
        )["runOrError"]
        if data["__typename"] != "Run":
            raise LookupError(f"run {run_id}: {data['__typename']}")
        return Run.of(data)

    def wait_for(self, run_id: str, statuses: set[str], timeout: float = 120, poll: float = 0.5) -> Run:
        """Poll until the run's status is one of `statuses` (TimeoutError naming its last status otherwise)."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.run(run_id)
            if run.status in statuses:
                return run
            if time.monotonic() > deadline:
                raise TimeoutError(f"run {run_id} is {run.status}, not {sorted(statuses)}, after {timeout:.0f}s")
            time.sleep(poll)


class DagsterDev(DagsterApi):
    """One private Dagster instance served by `dagster dev` (see the module docstring)."""

    def __init__(
        self,
        home: Path,
        pg_url: str,
        module: str,
        env: dict[str, str] | None = None,
        instance_overrides: dict | None = None,
        location: str = "lakehouse",
    ):
        self.port = free_port()
        super().__init__(f"http://127.0.0.1:{self.port}", location)
        self.home, self.pg_url = home, pg_url
        self.marker = uuid.uuid4().hex
        self.log = home / "dagster-dev.log"
        self._env = env or {}
        self._process: subprocess.Popen | None = None
        home.mkdir(parents=True, exist_ok=True)
        config = yaml.safe_load((REPO_ROOT / "infra" / "dagster" / "dagster.yaml").read_text())
        (home / "dagster.yaml").write_text(yaml.safe_dump(_merge(config, instance_overrides or {})))
        (home / "workspace.yaml").write_text(
            yaml.safe_dump(
                {
                    "load_from": [
                        {
                            "python_module": {
                                "module_name": module,
                                "working_directory": str(REPO_ROOT),
                                "location_name": location,
                            }
                        }
                    ]
                }
            )
        )

    def environment(self) -> dict[str, str]:
        """The environment its processes get."""
        return {
            **os.environ,
            **self._env,
            "DAGSTER_HOME": str(self.home),
            "DAGSTER_PG_URL": self.pg_url,
            MARKER: self.marker,
        }

    def start(self, timeout: float = 300) -> DagsterDev:
        """Start `dagster dev` in a new process group; return once the code location is loaded and the
        daemon reports healthy."""
        with open(self.log, "ab") as log:
            self._process = subprocess.Popen(
                [
                    str(REPO_ROOT / ".venv" / "bin" / "dagster"),
                    "dev",
                    "-w",
                    str(self.home / "workspace.yaml"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                ],
                cwd=REPO_ROOT,
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"dagster dev exited ({self._process.returncode}); see {self.log}")
            if self.ready():
                return self
            time.sleep(1)
        raise TimeoutError(f"dagster dev not ready after {timeout:.0f}s; see {self.log}")

    def processes(self) -> list[int]:
        """Live processes it started: dagster dev, webserver, daemon, code servers, run workers."""
        return marked_processes(self.marker)

    def kill(self) -> None:
        """kill -9 every process it started, at once, as when the host dies; wait until they are gone."""
        for _ in range(50):
            pids = self.processes()
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.1)
        self._reap()

    def stop(self, timeout: float = 60) -> None:
        """SIGINT to its process group (Ctrl-C), wait for every process to exit, kill -9 what is left after
        `timeout`."""
        if self._process and self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGINT)
            deadline = time.monotonic() + timeout
            while self.processes() and time.monotonic() < deadline:
                time.sleep(0.5)
        self.kill()

    def _reap(self) -> None:
        if self._process:
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass

    def instance(self):
        """A DagsterInstance on the same storage (dispose of it, or use it as a context manager)."""
        from dagster import DagsterInstance

        previous = os.environ.get("DAGSTER_PG_URL")
        os.environ["DAGSTER_PG_URL"] = self.pg_url  # read once, while the instance is built
        try:
            return DagsterInstance.from_config(str(self.home))
        finally:
            if previous is None:
                del os.environ["DAGSTER_PG_URL"]
            else:
                os.environ["DAGSTER_PG_URL"] = previous


def isolated_platform_env(bronze_topics: str, bucket: str, pg_url: str, main_pg_url: str) -> dict[str, str]:
    """Environment under which the platform's code location in a private Dagster reads and writes only a sandbox:
    bronze ingests `bronze_topics` (BRONZE_TOPICS syntax) into `bucket`, the ledger and models use `pg_url`; the
    lake_models schedule (and the Superset dashboard it provisions, which would repoint the shared "Postgres App"
    connection) never fires, and should the dashboard run, it keeps the connection at `main_pg_url`."""
    return {
        "BRONZE_TOPICS": bronze_topics,
        "S3_BUCKET": bucket,
        "PG_URL": pg_url,
        "MODELS_SCHEDULE_CRON": "0 0 1 1 *",
        "SUPERSET_DATABASE_URI": main_pg_url,
    }


@contextmanager
def throwaway_database(cfg: StackConfig, prefix: str = "dagster_t") -> Iterator[str]:
    """A new database owned by PG_URL's role on the stack's Postgres; its URL. Dropped (sessions and all) after."""
    pg = stack.service(cfg, "postgres")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with pg.superuser() as conn:
        conn.execute(f'CREATE DATABASE {name} OWNER "{pg.login()["user"]}"')
    try:
        yield cfg.pg_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with pg.superuser() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextmanager
def private_dagster(
    cfg: StackConfig,
    module: str = "orchestration.definitions",
    *,
    home: Path | None = None,
    env: dict[str, str] | None = None,
    instance_overrides: dict | None = None,
) -> Iterator[DagsterDev]:
    """A DagsterDev (not started) on a throw-away database; everything it started is killed and the database
    dropped on exit."""
    with throwaway_database(cfg) as pg_url, tempfile.TemporaryDirectory(prefix="dagster-dev-") as tmp:
        home = home or Path(tmp)
        dagster = DagsterDev(home, pg_url, module, env, instance_overrides)
        try:
            yield dagster
        finally:
            dagster.stop(timeout=20)
