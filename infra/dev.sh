#!/usr/bin/env bash
# The README's main command: set up, bring the local stack up, and start `dagster dev` with the platform loaded.
#   bash infra/dev.sh [--with flink]      (Ctrl-C stops Dagster; `lakehouse down` stops the stack)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f .env ]; then set -a; . ./.env; set +a; fi
bash infra/setup.sh
.venv/bin/lakehouse up "$@"
export DAGSTER_HOME="${DAGSTER_HOME:-$(pwd)/.lakehouse/dagster}"
mkdir -p "$DAGSTER_HOME"
echo "Dagster UI: http://127.0.0.1:${DAGSTER_PORT:-3000}   (stack: .venv/bin/lakehouse status | logs SERVICE | down)"
exec .venv/bin/dagster dev -w workspace.yaml -h 127.0.0.1 -p "${DAGSTER_PORT:-3000}"
