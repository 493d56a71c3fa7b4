"""The Dagster code location loads the way `dagster dev` loads it."""

from __future__ import annotations

import subprocess
import sys

from infra.stack.config import REPO_ROOT


def test_workspace_validates():
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Validation successful for code location lakehouse" in result.stdout + result.stderr


def test_pipeline_never_imports_infra():
    code = (
        "import sys, orchestration.definitions\n"
        "bad = sorted(m for m in sys.modules if m == 'infra' or m.startswith('infra.'))\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
