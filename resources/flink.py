"""Thin clients for Flink's SQL Gateway REST API (submit SQL) and the JobManager REST API (watch jobs)."""
from __future__ import annotations

import time
from dataclasses import dataclass

import requests
from dagster import ConfigurableResource


class FlinkError(RuntimeError):
    """Flink refused or failed something; the message carries Flink's own words."""


@dataclass(frozen=True)
class StatementResult:
    """What a finished statement returned: its rows and, for INSERT, the job it started."""

    columns: list[str]
    rows: list[list[object]]
    job_id: str | None


class FlinkResource(ConfigurableResource):
    """Where the JobManager REST API (FLINK_REST_URL) and the SQL Gateway (FLINK_SQL_GATEWAY_URL) answer."""

    rest_url: str
    sql_gateway_url: str
    timeout: float = 10.0

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
            raise FlinkError(f"{method} {url} -> HTTP {response.status_code}: " + "\n".join(map(str, errors)))
        return response.json() if response.content else {}

    def overview(self) -> dict:
        """GET /overview of the JobManager: task managers, slots, job counts."""
        return self._call("GET", f"{self.rest_url}/overview")

    def job(self, job_id: str) -> dict:
        """GET /jobs/<id>: state, vertices, timestamps."""
        return self._call("GET", f"{self.rest_url}/jobs/{job_id}")

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
                raise FlinkError(f"{exc}\n-- statement --\n{statement}") from None
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
                    raise FlinkError(f"no result after {wait:.0f}s\n-- statement --\n{statement}")
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
                raise FlinkError(f"job {job_id} is {info['state']} (waited for {'/'.join(states)})")
            time.sleep(0.5)
