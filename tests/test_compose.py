"""infra/docker-compose.yml validates with a real Compose implementation and has every service the lab names."""
from __future__ import annotations

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
}


def _config(path, *extra: str) -> subprocess.CompletedProcess:
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.fail("docker-compose is not installed: infra/setup.sh installs Debian's docker-compose")
    return subprocess.run([exe, "-f", str(path), "--profile", "streaming", "config", *extra],
                          capture_output=True, text=True, timeout=60)


def test_compose_file_validates_and_has_the_lab_services_and_ports():
    assert _config(COMPOSE, "-q").returncode == 0
    resolved = yaml.safe_load(_config(COMPOSE).stdout)
    services = resolved["services"]
    for name, port in LAB_PORTS.items():
        assert name in services, f"service {name} missing"
        published = {int(p["published"]) for p in services[name].get("ports", [])}
        assert port in published, f"{name} does not publish {port}"
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
