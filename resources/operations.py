"""Settings of the platform's own upkeep (history pruning, log rotation, freshness, failure alerts), as resources:
shown on the resource page, overridable per deployment (defaults and environment variables in .env.example)."""

from __future__ import annotations

import time

import requests
from dagster import ConfigurableResource
from pydantic import Field


class HousekeepingSettings(ConfigurableResource):
    """How much history the housekeeping job keeps, and how it rotates the stack's logs."""

    history_days: float = Field(
        7.0,
        description="Finished runs, their event logs and asset-check results, and "
        "run-less asset events older than this are deleted "
        "(HOUSEKEEPING_HISTORY_DAYS)",
    )
    max_runs_per_pass: int = Field(
        20_000,
        description="Runs deleted by one housekeeping run at most; the next "
        "run goes on (bounded work after a long outage)",
    )
    staging_max_age_minutes: float = Field(
        60.0,
        description="A lakehouse_state.staging_* table seen for this long "
        "is a leftover of a failed models run and is dropped "
        "(HOUSEKEEPING_STAGING_MAX_AGE_MINUTES)",
    )
    log_dir: str = Field(
        ".lakehouse/logs",
        description="Folder whose *.log files are rotated; relative paths are "
        "from the run's working directory (HOUSEKEEPING_LOG_DIR)",
    )
    log_max_bytes: int = Field(
        64 * 1024 * 1024, description="A log file larger than this is rotated (HOUSEKEEPING_LOG_MAX_BYTES)"
    )
    log_keep: int = Field(
        5,
        ge=1,
        description="Rotated copies kept per log file: name.log.1 (newest) .. name.log.N (HOUSEKEEPING_LOG_KEEP)",
    )


class FreshnessSettings(ConfigurableResource):
    """How long data may wait before a freshness check fails."""

    bronze_seconds: float = Field(
        120.0,
        description="A bronze asset fails its freshness check when Kafka holds "
        "records unread for longer than this and the asset was not "
        "updated meanwhile (FRESHNESS_BRONZE_SECONDS)",
    )
    models_seconds: float = Field(
        300.0,
        description="A Postgres model table fails its freshness check when "
        "bronze has had newer data for longer than this "
        "(FRESHNESS_MODELS_SECONDS)",
    )


class AlertWebhook(ConfigurableResource):
    """Where failed runs are reported (ALERT_WEBHOOK_URL; empty: the UI only) and how the UI is reached from the
    alert (DAGSTER_UI_URL). The webhook URL is treated as a secret: chat webhooks carry their token in it."""

    url: str = Field("", description="POST target for failure alerts; empty: no webhook (ALERT_WEBHOOK_URL)")
    ui_url: str = Field("http://127.0.0.1:3000", description="Dagster UI address used in alert links (DAGSTER_UI_URL)")
    timeout_seconds: float = Field(10.0, description="Per attempt; three attempts")

    def run_link(self, run_id: str) -> str:
        """The UI page of a run."""
        return f"{self.ui_url.rstrip('/')}/runs/{run_id}"

    def post(self, payload: dict) -> str | None:
        """POST `payload` as JSON (three attempts, 1 s then 2 s apart); None when delivered, else why not —
        never with the URL in it."""
        if not self.url:
            return "no webhook configured"
        problem = ""
        for attempt in range(3):
            try:
                response = requests.post(
                    self.url, json=payload, timeout=self.timeout_seconds, headers={"User-Agent": "lakehouse-alerts"}
                )
                if response.ok:
                    return None
                problem = f"webhook answered HTTP {response.status_code}"
            except requests.RequestException as exc:
                problem = f"webhook unreachable ({type(exc).__name__})"
            if attempt < 2:
                time.sleep(2**attempt)
        return problem
