"""A thin client for Kafka Connect's REST API: register, watch, restart, pause, resume, stop and remove connectors."""

from __future__ import annotations

import requests
from dagster import ConfigurableResource

from resources.redact import redact


class KafkaConnectError(RuntimeError):
    """Kafka Connect refused or failed something; the message carries Connect's own words."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status  # the HTTP status of Connect's answer, when it answered


class KafkaConnectResource(ConfigurableResource):
    """Where the Kafka Connect worker's REST API answers (CONNECT_URL)."""

    url: str
    timeout: float = 30.0  # registering runs the connector's validation, which connects to the database

    def _call(self, method: str, path: str, **kwargs: object) -> object:
        """`method` on `path`; the JSON answer, or a KafkaConnectError with Connect's message."""
        response = self._request(method, path, **kwargs)
        return response.json() if response.content else {}

    def _request(self, method: str, path: str, **kwargs: object) -> requests.Response:
        url = f"{self.url.rstrip('/')}{path}"
        session = requests.Session()
        session.trust_env = False  # the worker is the platform's own: never through a proxy the environment names
        try:
            with session:
                response = session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.ConnectionError as exc:
            raise KafkaConnectError(
                f"Kafka Connect is unreachable at {self.url} ({exc.__class__.__name__}); "
                "start it with `lakehouse up --with connect`"
            ) from None
        except requests.Timeout:
            raise KafkaConnectError(f"{method} {url}: no answer in {self.timeout:.0f}s") from None
        if response.status_code >= 400:
            try:
                message = response.json().get("message") or response.text
            except ValueError:
                message = response.text
            raise KafkaConnectError(
                f"{method} {url} -> HTTP {response.status_code}: {redact(message)}", status=response.status_code
            )
        return response

    def connectors(self) -> dict[str, dict]:
        """Every connector the worker knows, with its status and config (name -> {"status", "info"})."""
        return self._call("GET", "/connectors", params=[("expand", "status"), ("expand", "info")])

    def validate(self, name: str, config: dict[str, str]) -> list[str]:
        """The connector plugin's verdict on `config` ("field: error" lines, empty when valid). Debezium's check
        logs in to the database; asked first, because Connect 4.3 answers an invalid PUT with a
        NullPointerException instead of these errors."""
        answer = self._call(
            "PUT", f"/connector-plugins/{config['connector.class']}/config/validate", json={**config, "name": name}
        )
        return [
            f"{item['value']['name']}: {error}"
            for item in answer.get("configs", [])
            for error in (item.get("value") or {}).get("errors") or []
        ]

    def put_config(self, name: str, config: dict[str, str]) -> bool:
        """Create or update connector `name` (Connect validates the config first); True when it was created."""
        return self._request("PUT", f"/connectors/{name}/config", json=config).status_code == 201

    def config(self, name: str) -> dict[str, str] | None:
        """The connector's stored config (secrets as the provider references it holds), None when unknown."""
        return self._find("GET", f"/connectors/{name}/config")

    def status(self, name: str) -> dict | None:
        """The connector's and its tasks' state (RUNNING, PAUSED, STOPPED, FAILED, UNASSIGNED, RESTARTING),
        with Connect's trace for a failed one; None when the connector is unknown."""
        return self._find("GET", f"/connectors/{name}/status")

    def topics(self, name: str) -> list[str]:
        """The topics the connector has written to since it was created."""
        return self._call("GET", f"/connectors/{name}/topics").get(name, {}).get("topics", [])

    def offsets(self, name: str) -> list[dict]:
        """The connector's committed source offsets ([{"partition": …, "offset": …}])."""
        return self._call("GET", f"/connectors/{name}/offsets").get("offsets", [])

    def restart(self, name: str, only_failed: bool = False) -> None:
        """Restart the connector and its tasks (only the failed ones when `only_failed`)."""
        params = {"includeTasks": "true", "onlyFailed": str(only_failed).lower()}
        self._call("POST", f"/connectors/{name}/restart", params=params)

    def pause(self, name: str) -> None:
        """Pause the connector's tasks (they keep their resources, e.g. the replication slot, open)."""
        self._call("PUT", f"/connectors/{name}/pause")

    def resume(self, name: str) -> None:
        """Resume a paused or stopped connector."""
        self._call("PUT", f"/connectors/{name}/resume")

    def stop(self, name: str) -> None:
        """Stop the connector and shut its tasks down (the only state in which its offsets may be reset)."""
        self._call("PUT", f"/connectors/{name}/stop")

    def reset_offsets(self, name: str) -> None:
        """Forget the stopped connector's committed offsets."""
        self._call("DELETE", f"/connectors/{name}/offsets")

    def delete(self, name: str) -> None:
        """Remove the connector."""
        self._call("DELETE", f"/connectors/{name}")

    def _find(self, method: str, path: str) -> dict | None:
        try:
            return self._call(method, path)
        except KafkaConnectError as exc:
            if exc.status == 404:
                return None
            raise
