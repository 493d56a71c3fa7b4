#!/usr/bin/env bash
# The README's main command: set up, bring the local stack up, feed Kafka with the event generator and the
# application database with `lakehouse app` (changes reach Kafka through CDC) at modest rates, and start
# `dagster dev` with the platform loaded and its sensors running.
#   bash infra/dev.sh     (Flink and Superset come up too: the Flink jobs and the dashboard are part of the main command)
# Ctrl-C stops Dagster, the generators and the application; `.venv/bin/lakehouse down` stops the stack.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f .env ]; then set -a; . ./.env; set +a; fi
bash infra/setup.sh
.venv/bin/lakehouse up --with flink,superset,connect,spark "$@"

export DAGSTER_HOME="${DAGSTER_HOME:-$(pwd)/.lakehouse/dagster}"
pg_url="${PG_URL:-postgresql://de_user:de_pass@127.0.0.1:5432/de_db}"
export DAGSTER_PG_URL="${DAGSTER_PG_URL:-${pg_url%/*}/dagster}"
mkdir -p "$DAGSTER_HOME"
cp infra/dagster/dagster.yaml "$DAGSTER_HOME/dagster.yaml"

logs="${LAKEHOUSE_HOME:-.lakehouse}/logs"
umask 077  # the generators' logs and Dagster's files are the owner's only, like the launcher's logs
chmod go-rwx "$logs"/generator-*.log "$logs"/app.log 2>/dev/null || true  # logs written before this line existed
export HOUSEKEEPING_LOG_DIR="${HOUSEKEEPING_LOG_DIR:-$logs}"  # the housekeeping job rotates the logs written here
export DAGSTER_UI_URL="${DAGSTER_UI_URL:-http://127.0.0.1:${DAGSTER_PORT:-3000}}"  # for the links in failure alerts
# Ctrl-C reaches every process of this script's process group. Background commands of a non-interactive shell
# ignore SIGINT, so the generators get its default action back (env --default-signal): they stop on Ctrl-C and
# deliver what they had already produced. Every process started from here inherits LAKEHOUSE_DEV_SESSION; on exit
# (Ctrl-C, or Dagster stopping for another reason) the trap stops the generators and waits until all of them are
# gone (Dagster's run workers mark their runs failed first), killing what is left after 90 s.
export LAKEHOUSE_DEV_SESSION="dev-$$-$RANDOM"
started() {  # pids of the live processes started from here, this shell excepted
  local file pid
  for file in $(grep -lsxz "LAKEHOUSE_DEV_SESSION=$LAKEHOUSE_DEV_SESSION" /proc/[0-9]*/environ); do
    pid=${file#/proc/}; pid=${pid%/environ}
    [ "$pid" != "$$" ] && [ "$pid" != "$BASHPID" ] && [ -e "/proc/$pid" ] || continue
    grep -qs '^State:.*Z' "/proc/$pid/status" || echo "$pid"  # zombies are gone, just not reaped yet
  done
}
stop() {
  set +e
  kill -INT $gen_orders $gen_lab $app 2>/dev/null
  local left
  for _ in $(seq 180); do left=$(started); [ -z "$left" ] && return; sleep 0.5; done
  echo "dev.sh: still running after 90 s, killing: $left" >&2
  kill -KILL $left 2>/dev/null
}
generator() { exec env --default-signal=INT .venv/bin/lakehouse produce "$@"; }
orders_topic="${GENERATOR_ORDERS_TOPIC:-orders}" events_topic="${GENERATOR_EVENTS_TOPIC:-lab-events}"
generator --topic "$orders_topic" --forever --rate "${GENERATOR_RATE:-5}" --disorder 5 \
  --late-fraction 0.02 --duplicate-fraction 0.01 --bad-fraction 0.01 >>"$logs/generator-orders.log" 2>&1 &
gen_orders=$!
generator --topic "$events_topic" --forever --rate 1 >>"$logs/generator-lab-events.log" 2>&1 &
gen_lab=$!
# The application: its changes flow shop.app.orders -> dbserver1.app.orders (the connector, registered by
# cdc_automation_sensor) -> bronze -> app.orders_cdc (docs/cdc.md).
env --default-signal=INT .venv/bin/lakehouse app --rate "${APP_RATE:-2}" >>"$logs/app.log" 2>&1 &
app=$!
trap stop EXIT

echo "Dagster UI: http://127.0.0.1:${DAGSTER_PORT:-3000}  — sensors bronze_orders_sensor and bronze_lab_events_sensor are on."
echo "Generators write to $orders_topic (${GENERATOR_RATE:-5}/s) and $events_topic (1/s); logs in $logs/."
echo "The application changes shop.app.orders (${APP_RATE:-2}/s); CDC mirrors them into app.orders_cdc (docs/cdc.md)."
echo "Each bronze run also updates silver and the app.* tables; lake_models_schedule runs every model, then the"
echo "dashboard ${SUPERSET_URL:-http://127.0.0.1:8088}/superset/dashboard/orders-realtime/ (refreshes every 30 s)."
echo "Failed runs: sensor run_failure_alerts (and ALERT_WEBHOOK_URL); stale data: the 'fresh' checks (docs/operations.md)."
echo "Flink SQL: launch the jobs flink_kafka_to_minio / flink_orders_per_minute from the UI; Flink UI ${FLINK_REST_URL:-http://127.0.0.1:8081}."
echo "Spark Structured Streaming: launch spark_kafka_to_minio / spark_orders_per_minute from the UI (spark_stop, spark_resume); drivers log to $logs/spark-*.log."
# Dagster runs in the background with Ctrl-C's default action restored, and this shell waits for it: Ctrl-C then
# interrupts the wait at once and the trap takes over (stop: everything started here gone within 90 s), instead of
# the shell waiting for as long as `dagster dev` takes to shut down (up to two minutes when one of its daemons hangs).
env --default-signal=INT .venv/bin/dagster dev -w workspace.yaml -h 127.0.0.1 -p "${DAGSTER_PORT:-3000}" &
trap 'exit 130' INT TERM
wait $!
