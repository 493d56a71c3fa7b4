"""infra/docker-compose.yml validates with a real Compose implementation, has every service the lab names, and
publishes every port on 127.0.0.1 unless BIND_ADDRESS says otherwise."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import yaml

from infra.stack.config import REPO_ROOT

COMPOSE = REPO_ROOT / "infra" / "docker-compose.yml"
LAB_PORTS = {
    "kafka": 9092,
    "minio": 9000,
    "postgres": 5432,
    "flink-jobmanager": 8081,
    "flink-sql-gateway": 8083,
    "superset": 8088,
    "dagster-webserver": 3000,
    "connect": 8084,
}


def _config(path, *extra: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.fail("docker-compose is not installed: infra/setup.sh installs Debian's docker-compose")
    # The file's defaults, whatever the caller's environment sets (BIND_ADDRESS, credentials).
    clean = {k: v for k, v in os.environ.items() if k not in ("BIND_ADDRESS", "COMPOSE_FILE")}
    return subprocess.run(
        [exe, "-f", str(path), "--profile", "streaming", "config", *extra],
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, **(env or {})},
    )


def _published(port: str | dict) -> tuple[str, int]:
    """(host address, published port) of one resolved `ports` entry: Compose writes "ip:published:target/proto"
    when an address is set, a mapping otherwise."""
    if isinstance(port, dict):
        return port.get("host_ip", "0.0.0.0"), int(port["published"])
    parts = port.split("/")[0].split(":")
    return (parts[0], int(parts[1])) if len(parts) == 3 else ("0.0.0.0", int(parts[0]))


def _ports(env: dict[str, str] | None = None) -> dict[str, set[tuple[str, int]]]:
    result = _config(COMPOSE, env=env)
    assert result.returncode == 0, result.stderr
    return {
        name: {_published(p) for p in service.get("ports", [])}
        for name, service in yaml.safe_load(result.stdout)["services"].items()
    }


def test_compose_file_validates_and_has_the_lab_services_and_ports():
    assert _config(COMPOSE, "-q").returncode == 0
    services = yaml.safe_load(_config(COMPOSE).stdout)["services"]
    ports = _ports()
    for name, port in LAB_PORTS.items():
        assert name in services, f"service {name} missing"
        assert port in {published for _, published in ports[name]}, f"{name} does not publish {port}"
    for name in ("flink-taskmanager", "dagster-daemon", "minio-init", "kafka-init"):
        assert name in services
    assert "streaming" in services["flink-sql-gateway"]["profiles"]


def test_validator_rejects_a_broken_file(tmp_path):
    broken = yaml.safe_load(COMPOSE.read_text())
    broken["services"]["kafka"]["ports"] = "not-a-list"
    path = tmp_path / "docker-compose.yml"
    path.write_text(yaml.safe_dump(broken))
    result = _config(path, "-q")
    assert result.returncode != 0
    assert "ports" in result.stderr


def test_every_port_is_published_on_localhost_unless_bind_address_says_otherwise():
    default = _ports()
    published = {(name, address, port) for name, pairs in default.items() for address, port in pairs}
    assert len(published) >= len(LAB_PORTS) + 1  # the lab's ports and MinIO's console
    assert {(name, port) for name, address, port in published if address != "127.0.0.1"} == set()
    exposed = _ports({"BIND_ADDRESS": "0.0.0.0"})
    assert {address for pairs in exposed.values() for address, _ in pairs} == {"0.0.0.0"}


def test_no_credential_on_a_command_line():
    """Compose puts `command:` in the container's argv, which the host's users read in /proc: credentials go in
    `environment:` only."""
    secrets = {
        "SUPERSET_ADMIN_PASSWORD": "sup-Xq1",
        "S3_SECRET_KEY": "s3-Xq2",
        "PG_PASSWORD": "pg-Xq3",
        "SUPERSET_SECRET_KEY": "key-Xq4",
    }
    result = _config(COMPOSE, env=secrets)
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    assert "sup-Xq1" in str(services["superset"]["environment"])  # the values do reach the file
    for name, service in services.items():
        argv = str(service.get("command", "")) + str(service.get("entrypoint", ""))
        assert not [v for v in secrets.values() if v in argv], f"{name}: a credential in its command line: {argv}"
        # A shell would expand "$${VAR}" into the argv of the command it runs.
        assert "$${" not in argv and "--password" not in argv, f"{name}: a variable expanded into an argv: {argv}"
