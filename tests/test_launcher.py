"""`lakehouse up/status/down` on a second, throw-away stack (own folder and ports, shared downloads)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from infra.stack.config import REPO_ROOT
from tests.support.ports import free_port


@pytest.fixture(scope="module")
def alt_env(cfg):
    # under the stack's own folder: the postgres user must be able to reach its data folder (not so in /tmp/pytest-*)
    home = cfg.home / "tests" / f"alt-{uuid.uuid4().hex[:8]}"
    home.mkdir(parents=True)
    pg, s3, s3_console, kafka, ctrl = (free_port() for _ in range(5))
    env = {
        **os.environ,
        "LAKEHOUSE_HOME": str(home),
        "LAKEHOUSE_DOWNLOADS": str(cfg.downloads),
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{kafka}",
        "KAFKA_CONTROLLER_PORT": str(ctrl),
        "S3_ENDPOINT": f"http://127.0.0.1:{s3}",
        "S3_CONSOLE_PORT": str(s3_console),
        "PG_URL": f"postgresql://de_user:de_pass@127.0.0.1:{pg}/de_db",
    }
    yield env
    _lakehouse(env, "down")
    shutil.rmtree(home, ignore_errors=True)


def _lakehouse(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "infra.cli", *args], env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600
    )


def _our_processes(home: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if home in cmd:
                found.append(f"{entry.name}: {cmd[:200]}")
    return found


def test_a_taken_port_is_named(alt_env):
    host, port = alt_env["S3_ENDPOINT"].split("//")[1].split(":")
    with socket.socket() as squatter:
        squatter.bind((host, int(port)))
        squatter.listen()
        result = _lakehouse(alt_env, "up")
    assert result.returncode != 0
    assert f"s3: port {host}:{port} is already in use" in result.stderr


def test_up_twice_shows_logs_then_down_leaves_nothing_running(alt_env, core_stack):
    first = _lakehouse(alt_env, "up")
    assert first.returncode == 0, first.stderr
    table = first.stdout.splitlines()
    assert table[0].split() == ["SERVICE", "ADDRESS", "PID", "HEALTHY"]
    assert {line.split()[0]: line.split()[-1] for line in table[1:]} == {"postgres": "yes", "s3": "yes", "kafka": "yes"}
    assert alt_env["KAFKA_BOOTSTRAP_SERVERS"] in first.stdout

    second = _lakehouse(alt_env, "up")
    assert second.returncode == 0, second.stderr
    assert [row.split()[2] for row in second.stdout.splitlines()[1:]] == [row.split()[2] for row in table[1:]], (
        "a second `up` must reuse the running processes"
    )
    logs = _lakehouse(alt_env, "logs", "kafka", "-n", "5")
    assert logs.returncode == 0 and logs.stdout.strip(), logs.stderr

    assert _our_processes(alt_env["LAKEHOUSE_HOME"])
    down = _lakehouse(alt_env, "down")
    assert down.returncode == 0
    assert "postgres" in down.stdout and "kafka" in down.stdout and "s3" in down.stdout
    assert _our_processes(alt_env["LAKEHOUSE_HOME"]) == []
    status = _lakehouse(alt_env, "status")
    assert status.returncode != 0 and "NO" in status.stdout

    # the main stack was not touched
    main = _lakehouse({k: v for k, v in os.environ.items()}, "status")
    assert main.returncode == 0, main.stdout


def test_a_service_that_fails_to_start_is_named_with_its_log(alt_env):
    home = Path(alt_env["LAKEHOUSE_HOME"] + "-broken")
    home.mkdir()
    env = {
        **alt_env,
        "LAKEHOUSE_HOME": str(home),
        "S3_SECRET_KEY": "short",  # MinIO wants 8+ characters
        "S3_ENDPOINT": f"http://127.0.0.1:{free_port()}",
        "S3_CONSOLE_PORT": str(free_port()),
        "PG_URL": f"postgresql://de_user:de_pass@127.0.0.1:{free_port()}/de_db",
    }
    try:
        result = _lakehouse(env, "up")
        assert result.returncode != 0
        assert "s3: process s3 exited during start-up" in result.stderr
        assert f"last lines of {home}/logs/s3.log" in result.stderr
        assert "MINIO_ROOT_PASSWORD length at least 8" in result.stderr  # MinIO's own words, from its log
    finally:
        _lakehouse(env, "down")
        shutil.rmtree(home, ignore_errors=True)
