#!/usr/bin/env bash
# The README's main command: set up, bring the local stack up, feed Kafka with the event generator at a
# modest rate, and start `dagster dev` with the platform loaded and its sensors running.
#   bash infra/dev.sh     (Flink and Superset come up too: the Flink jobs and the dashboard are part of the main command)
# Ctrl-C stops Dagster and the generators; `.venv/bin/lakehouse down` stops the stack.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f .env ]; then set -a; . ./.env; set +a; fi
bash infra/setup.sh
.venv/bin/lakehouse up --with flink,superset,connect "$@"

export DAGSTER_HOME="${DAGSTER_HOME:-$(pwd)/.lakehouse/dagster}"
pg_url="${PG_URL:-postgresql://de_user:de_pass@127.0.0.1:5432/de_db}"
export DAGSTER_PG_URL="${DAGSTER_PG_URL:-${pg_url%/*}/dagster}"
mkdir -p "$DAGSTER_HOME"
cp infra/dagster/dagster.yaml "$DAGSTER_HOME/dagster.yaml"

logs="${LAKEHOUSE_HOME:-.lakehouse}/logs"
.venv/bin/lakehouse produce --topic orders --forever --rate "${GENERATOR_RATE:-5}" --disorder 5 \
  --late-fraction 0.02 --duplicate-fraction 0.01 --bad-fraction 0.01 >>"$logs/generator-orders.log" 2>&1 &
gen_orders=$!
.venv/bin/lakehouse produce --topic lab-events --forever --rate 1 >>"$logs/generator-lab-events.log" 2>&1 &
gen_lab=$!
trap 'kill -INT $gen_orders $gen_lab 2>/dev/null || true' EXIT

echo "Dagster UI: http://127.0.0.1:${DAGSTER_PORT:-3000}  — sensors bronze_orders_sensor and bronze_lab_events_sensor are on."
echo "Generators write to orders (${GENERATOR_RATE:-5}/s) and lab-events (1/s); logs in $logs/."
echo "The schedule lake_models_schedule updates silver and the app.* tables in Postgres every minute,"
echo "then the Superset dashboard: ${SUPERSET_URL:-http://127.0.0.1:8088}/superset/dashboard/orders-realtime/ (refreshes every 30 s)."
echo "Flink SQL: launch the jobs flink_kafka_to_minio / flink_orders_per_minute from the UI; Flink UI ${FLINK_REST_URL:-http://127.0.0.1:8081}."
.venv/bin/dagster dev -w workspace.yaml -h 127.0.0.1 -p "${DAGSTER_PORT:-3000}"
