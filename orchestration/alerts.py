"""Failed runs are announced: each one is logged with its error on the sensor's tick (Automation → sensors →
run_failure_alerts in the UI) and, when ALERT_WEBHOOK_URL is set, posted there as a small JSON document."""
# No `from __future__ import annotations` here: Dagster reads the annotations of sensor functions at runtime.

from dagster import DefaultSensorStatus, RunFailureSensorContext, run_failure_sensor

from resources.operations import AlertWebhook
from resources.redact import redact
from resources.settings import secret_values

MAX_ERROR_CHARS = 2000


def failure_summary(context: RunFailureSensorContext) -> str:
    """The run's failure message and its failed steps' errors, secrets masked."""
    parts = [context.failure_event.message or "run failed"]
    for event in context.get_step_failure_events():
        error = event.step_failure_data.error
        parts.append(f"{event.step_key}: {error.message.strip() if error else 'failed'}")
    return redact("\n".join(parts), secret_values())[:MAX_ERROR_CHARS]


def alert_payload(context: RunFailureSensorContext, webhook: AlertWebhook) -> dict:
    """What the webhook receives: job, run id, error and the run's page in the UI (no secret)."""
    run = context.dagster_run
    return {
        "event": "run_failed",
        "job": run.job_name,
        "run_id": run.run_id,
        "error": failure_summary(context),
        "url": webhook.run_link(run.run_id),
    }


@run_failure_sensor(
    name="run_failure_alerts",
    default_status=DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=10,
    monitor_all_code_locations=True,
    description="Logs every failed run with its error here and posts it to ALERT_WEBHOOK_URL when set",
)
def run_failure_alerts(context: RunFailureSensorContext, alert_webhook: AlertWebhook) -> None:
    payload = alert_payload(context, alert_webhook)
    context.log.error(f"run {payload['run_id']} of {payload['job']} failed: {payload['error']} ({payload['url']})")
    if alert_webhook.url:
        problem = alert_webhook.post(payload)
        if problem:
            context.log.error(f"alert for run {payload['run_id']} not delivered: {problem}")
