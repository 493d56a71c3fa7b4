#!/usr/bin/env bash
# The README's test command (and what .ci/run calls): set up, bring the whole stack up (with Flink and Superset),
# run the test suite against the real services. Extra arguments go to pytest.
# On CI (CI=true) the stack is stopped at the end; locally it is left running for the next run.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f .env ]; then set -a; . ./.env; set +a; fi
bash infra/setup.sh
# Lint and format first: seconds, before any service is started (configuration in pyproject.toml).
if ! .venv/bin/ruff check . || ! .venv/bin/ruff format --check .; then
  echo "test.sh: ruff found problems (above); fix them, or run .venv/bin/ruff format . and .venv/bin/ruff check --fix ." >&2
  exit 1
fi
if [ "${CI:-}" = "true" ]; then trap '.venv/bin/lakehouse down >&2 || true' EXIT; fi
if ! .venv/bin/lakehouse up --with flink,superset,connect,spark; then
  echo "test.sh: the stack did not come up — the service named above failed; its log tail is printed above" >&2
  exit 1
fi
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
if [ $rc -ne 0 ]; then echo "test.sh: tests failed (pytest exit $rc)" >&2; fi
exit $rc
