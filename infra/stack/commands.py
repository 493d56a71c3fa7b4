"""Helpers the services share for installing: running a command, finding Java."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from infra.stack.service import StackError


def run_command(service: str, argv: list[str], what: str, **kwargs: object) -> str:
    """Run a command to completion and return its output; on failure a StackError naming the service,
    the command and the tail of its output."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=1800, **kwargs)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise StackError(f"{service}: could not {what}: {' '.join(map(str, argv))}: {exc}") from exc
    output = done.stdout + done.stderr
    if done.returncode != 0:
        tail = "\n".join(output.splitlines()[-25:])
        raise StackError(f"{service}: could not {what} (exit {done.returncode}): {' '.join(map(str, argv))}\n{tail}")
    return output


def java_binary(service: str) -> Path:
    """$JAVA_HOME/bin/java, else the java on PATH with its links resolved (so its JAVA_HOME is known)."""
    java_home = os.environ.get("JAVA_HOME")
    java = Path(java_home, "bin", "java") if java_home else Path(os.path.realpath(shutil.which("java") or "java"))
    if not os.access(java, os.X_OK):
        raise StackError(
            f"{service}: no Java found; install Java 17 (apt-get install openjdk-17-jre-headless) or set JAVA_HOME"
        )
    return java


def install_requirements(service: str, venv: Path, requirements: Path) -> None:
    """Create the virtual environment `venv` (with the launcher's Python) if missing and install `requirements`
    into it from PyPI: a service's own packages, apart from the platform's .venv."""
    python = venv / "bin" / "python"
    if not python.exists():
        run_command(
            service, [sys.executable, "-m", "venv", "--clear", str(venv)], f"create the virtual environment {venv}"
        )
    run_command(service, [str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"], "upgrade pip")
    run_command(
        service,
        [str(python), "-m", "pip", "install", "-q", "-r", str(requirements)],
        f"install the packages of {requirements} from PyPI",
    )
