"""Thin clients for Flink's SQL Gateway REST API (submit SQL) and the JobManager REST API (watch jobs).

Flink's messages echo statements and options, so every text of Flink's that this module passes on (errors, root
exceptions) goes through resources/redact.py first: a password in a statement never reaches Dagster's event log.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import requests
from dagster import ConfigurableResource

from resources.redact import redact
from resources.settings import DEFAULTS


class FlinkError(RuntimeError):
    """Flink refused or failed something; the message carries Flink's own words."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status  # the HTTP status of Flink's answer, when it answered


# Jobs in these states hold (or will hold) slots; a job of the same name in one of them is "running".
ACTIVE_STATES = (
    "CREATED",
    "INITIALIZING",
    "RUNNING",
    "RESTARTING",
    "FAILING",
    "CANCELLING",
    "RECONCILING",
    "SUSPENDED",
)
# Connector identifiers and file-system schemes the platform's SQL uses, and the jars that provide them.
CONNECTOR_JARS = {
    "kafka": "flink-sql-connector-kafka-*.jar in lib/",
    "jdbc": "flink-connector-jdbc-core-*.jar, flink-connector-jdbc-postgres-*.jar and postgresql-*.jar in lib/",
    "s3": "flink-s3-fs-hadoop-*.jar in plugins/s3-fs-hadoop/",
}


def condensed(java_error: str) -> str:
    """A Java error without its stack frames (the message and every 'Caused by' line), passwords masked."""
    lines = [
        line
        for line in java_error.splitlines()
        if line.strip() and not line.startswith("\tat ") and not re.match(r"\s*\.\.\. \d+ more", line)
    ]
    return redact("\n".join(dict.fromkeys(lines)))


def missing_jar_hint(message: str) -> str:
    """How to fix a connector or file system Flink could not find, or '' when `message` is not about that."""
    found = re.search(r"Could not find any factory for identifier '([^']+)'", message) or re.search(
        r"Could not find a file system implementation for scheme '([^']+)'", message
    )
    if not found:
        return ""
    name = found.group(1)
    jar = CONNECTOR_JARS.get(name, f"the jar providing '{name}' in lib/ (or plugins/ for a file system)")
    return (
        f"Flink has no '{name}' on its classpath: it needs {jar} of the Flink distribution. "
        "`lakehouse up --with flink` fetches the platform's jars from Maven Central (infra/flink/pom.xml); "
        "on another cluster add the jar and restart the JobManager, TaskManagers and SQL Gateway."
    )


def pgpass_hint(message: str) -> str:
    """How to fix a JDBC sink that could not log in to Postgres, or '' when `message` is not about that."""
    if not re.search(r"no password was provided|password authentication failed", message):
        return ""
    return (
        "\nThe JDBC sink's Postgres driver reads the password from the TaskManagers' pgpass file (PGPASSFILE), "
        "never from the SQL: `lakehouse up --with flink` writes it from PG_URL and the TaskManager reads it when "
        "it starts (restart Flink after changing PG_URL); on another cluster give the TaskManagers a pgpass file."
    )


@dataclass(frozen=True)
class StatementResult:
    """What a finished statement returned: its rows and, for INSERT, the job it started."""

    columns: list[str]
    rows: list[list[object]]
    job_id: str | None


class FlinkResource(ConfigurableResource):
    """Where the JobManager REST API (FLINK_REST_URL) and the SQL Gateway (FLINK_SQL_GATEWAY_URL) answer, and what
    a pipeline run uses unless its run config says otherwise (shown on the resource's page in the UI)."""

    rest_url: str
    sql_gateway_url: str
    timeout: float = 10.0
    topic: str = DEFAULTS["FLINK_TOPIC"]  # FLINK_TOPIC
    checkpoint_interval: str = DEFAULTS["FLINK_CHECKPOINT_INTERVAL"]  # FLINK_CHECKPOINT_INTERVAL
    parallelism: int = int(DEFAULTS["FLINK_PARALLELISM"])  # FLINK_PARALLELISM
    udf_jar: str = DEFAULTS["FLINK_UDF_JAR"]  # FLINK_UDF_JAR; empty: the SQL functions are on Flink's classpath
    max_message_bytes: int = int(DEFAULTS["BRONZE_MAX_MESSAGE_BYTES"])  # larger records quarantined, as in bronze

    def _call(self, method: str, url: str, **kwargs: object) -> dict:
        try:
            response = requests.request(method, url, timeout=self.timeout, **kwargs)
        except requests.ConnectionError as exc:
            raise FlinkError(
                f"Flink is unreachable at {url.split('/v1')[0]} ({exc.__class__.__name__}); "
                "start it with `lakehouse up --with flink`"
            ) from exc
        if response.status_code >= 400:
            try:
                errors = response.json().get("errors", [])
            except ValueError:
                errors = [response.text]
            message = condensed("\n".join(map(str, errors)))
            hint = missing_jar_hint(message)
            raise FlinkError(
                f"{method} {url} -> HTTP {response.status_code}: " + (f"{hint}\n" if hint else "") + message,
                status=response.status_code,
            )
        return response.json() if response.content else {}

    def overview(self) -> dict:
        """GET /overview of the JobManager: task managers, slots, job counts."""
        return self._call("GET", f"{self.rest_url}/overview")

    def taskmanager_metric_total(self, name: str) -> float:
        """A TaskManager metric (e.g. Status.JVM.CPU.Time) summed over the cluster's TaskManagers."""
        total = 0.0
        for tm in self._call("GET", f"{self.rest_url}/taskmanagers")["taskmanagers"]:
            values = self._call("GET", f"{self.rest_url}/taskmanagers/{tm['id']}/metrics", params={"get": name})
            total += sum(float(m["value"]) for m in values)
        return total

    def job(self, job_id: str) -> dict:
        """GET /jobs/<id>: state, vertices, timestamps."""
        return self._call("GET", f"{self.rest_url}/jobs/{job_id}")

    def find_job(self, job_id: str) -> dict | None:
        """Like job(), but None when the JobManager does not know the job (404)."""
        try:
            return self.job(job_id)
        except FlinkError as exc:
            if exc.status == 404:
                return None
            raise

    def jobs(self) -> list[dict]:
        """GET /jobs/overview: every job the JobManager knows (jid, name, state, start-time...)."""
        return self._call("GET", f"{self.rest_url}/jobs/overview")["jobs"]

    def active_jobs(self, name: str) -> list[dict]:
        """The jobs called `name` that are not finished, failed or cancelled."""
        return [job for job in self.jobs() if job["name"] == name and job["state"] in ACTIVE_STATES]

    def checkpoints(self, job_id: str) -> dict:
        """GET /jobs/<id>/checkpoints: counts, the latest completed/failed/restored checkpoint."""
        return self._call("GET", f"{self.rest_url}/jobs/{job_id}/checkpoints")

    def exceptions(self, job_id: str) -> dict:
        """GET /jobs/<id>/exceptions: the root exception and the exception history."""
        return self._call("GET", f"{self.rest_url}/jobs/{job_id}/exceptions")

    def root_exception(self, job_id: str) -> str:
        """The job's root exception (condensed), preceded by a newline, or '' when it has none."""
        info = self.exceptions(job_id)
        history = (info.get("exceptionHistory") or {}).get("entries") or []
        root = info.get("root-exception") or (history[0].get("stacktrace") if history else None)
        return f"\nroot exception:\n{condensed(root)}{pgpass_hint(root)}" if root else ""

    def job_metric(self, job_id: str, name: str) -> str | None:
        """One job-level metric (e.g. numRestarts), or None when Flink does not report it (yet)."""
        values = self._call("GET", f"{self.rest_url}/jobs/{job_id}/metrics", params={"get": name})
        return next((m["value"] for m in values if m["id"] == name), None)

    def vertex_metric_names(self, job_id: str, vertex_id: str) -> list[str]:
        """The names of the operator metrics a vertex reports."""
        url = f"{self.rest_url}/jobs/{job_id}/vertices/{vertex_id}/subtasks/metrics"
        return [m["id"] for m in self._call("GET", url)]

    def vertex_metrics(self, job_id: str, vertex_id: str, names: list[str]) -> dict[str, float]:
        """Operator metrics of a vertex, summed over its subtasks."""
        if not names:
            return {}
        url = f"{self.rest_url}/jobs/{job_id}/vertices/{vertex_id}/subtasks/metrics"
        values = self._call("GET", url, params={"get": ",".join(names), "agg": "sum"})
        return {m["id"]: float(m["sum"]) for m in values if "sum" in m}

    def backpressure(self, job_id: str, vertex_id: str) -> str:
        """The vertex's backpressure level: ok, low or high (or 'unknown' while Flink samples it)."""
        info = self._call("GET", f"{self.rest_url}/jobs/{job_id}/vertices/{vertex_id}/backpressure")
        return info.get("backpressureLevel") or info.get("backpressure-level") or "unknown"

    def cancel(self, job_id: str) -> None:
        """Cancel a job (no savepoint)."""
        self._call("PATCH", f"{self.rest_url}/jobs/{job_id}", params={"mode": "cancel"})

    def stop_with_savepoint(self, job_id: str, target_directory: str, timeout: float = 300.0) -> str:
        """Stop the job after a savepoint into `target_directory`; return the savepoint's path."""
        body = {"targetDirectory": target_directory, "drain": False}
        trigger = self._call("POST", f"{self.rest_url}/jobs/{job_id}/stop", json=body)["request-id"]
        deadline = time.monotonic() + timeout
        while True:
            status = self._call("GET", f"{self.rest_url}/jobs/{job_id}/savepoints/{trigger}")
            if status["status"]["id"] == "COMPLETED":
                operation = status.get("operation") or {}
                if "location" in operation:
                    return operation["location"]
                cause = operation.get("failure-cause", {}).get("stack-trace", str(operation))
                raise FlinkError(f"stop-with-savepoint of job {job_id} failed:\n{condensed(cause)}")
            if time.monotonic() > deadline:
                raise FlinkError(f"stop-with-savepoint of job {job_id} did not complete in {timeout:.0f}s")
            time.sleep(0.5)

    def gateway_info(self) -> dict:
        """GET /v1/info of the SQL Gateway."""
        return self._call("GET", f"{self.sql_gateway_url}/v1/info")

    def open_session(self, properties: dict[str, str] | None = None) -> str:
        """A new SQL Gateway session with `properties` set; returns its handle."""
        body = {"properties": properties or {}}
        return self._call("POST", f"{self.sql_gateway_url}/v1/sessions", json=body)["sessionHandle"]

    def close_session(self, session: str) -> None:
        """Close a session (its running jobs keep running)."""
        self._call("DELETE", f"{self.sql_gateway_url}/v1/sessions/{session}")

    def execute(self, session: str, statement: str, wait: float = 120.0) -> StatementResult:
        """Run one statement and collect its whole result; raise FlinkError with Flink's message and the statement."""
        base = f"{self.sql_gateway_url}/v1/sessions/{session}"
        op = self._call("POST", f"{base}/statements", json={"statement": statement})["operationHandle"]
        columns: list[str] = []
        rows: list[list[object]] = []
        job_id = None
        uri = f"{base}/operations/{op}/result/0"
        deadline = time.monotonic() + wait
        while uri:
            try:
                page = self._call("GET", uri)
            except FlinkError as exc:
                raise FlinkError(f"{exc}\n-- statement --\n{redact(statement)}", status=exc.status) from None
            job_id = page.get("jobID") or job_id
            results = page.get("results") or {}
            columns = [c["name"] for c in results.get("columns", [])] or columns
            rows.extend(item["fields"] for item in results.get("data", []))
            if page.get("resultType") == "EOS":
                break
            next_uri = page.get("nextResultUri")
            uri = f"{self.sql_gateway_url}{next_uri}" if next_uri else ""
            if page.get("resultType") == "NOT_READY":
                if time.monotonic() > deadline:
                    raise FlinkError(f"no result after {wait:.0f}s\n-- statement --\n{redact(statement)}")
                time.sleep(0.2)
        return StatementResult(columns, rows, job_id)

    def wait_for_job(self, job_id: str, states: tuple[str, ...], timeout: float = 120.0) -> dict:
        """Poll the job until its state is one of `states`; FlinkError if it fails or time runs out."""
        deadline = time.monotonic() + timeout
        while True:
            info = self.job(job_id)
            if info["state"] in states:
                return info
            if info["state"] in ("FAILED", "CANCELED") or time.monotonic() > deadline:
                raise FlinkError(
                    f"job {job_id} is {info['state']} (waited for {'/'.join(states)})" + self.root_exception(job_id)
                )
            time.sleep(0.5)
