"""Bronze ingestion settings, as a resource: shown on the resource page, overridable per deployment."""

from __future__ import annotations

from dagster import ConfigurableResource
from pydantic import Field


class BronzeSettings(ConfigurableResource):
    """How big a micro-batch may be, how many runs may be in flight, how failed ranges are retried
    (defaults and environment variables in .env.example)."""

    max_records: int = Field(100_000, description="Records per run (BRONZE_MAX_RECORDS)")
    max_bytes: int = Field(64 * 1024 * 1024, description="Kafka payload bytes per run (BRONZE_MAX_BYTES)")
    max_message_bytes: int = Field(1024 * 1024, description="Larger records are quarantined as oversized")
    sensor_wait_seconds: float = Field(
        4.0,
        description="A sensor tick that finds nothing new waits for the next record until this long after it "
        "began, so a record is requested a moment after it arrives rather than at the next tick (Dagster's "
        "sensor daemon looks every 5 s: keep this under 5 s so the tick is over by then); 0: return at once "
        "(BRONZE_SENSOR_WAIT_SECONDS)",
    )
    max_runs_per_tick: int = Field(10, description="Runs one sensor tick may request")
    max_runs_in_flight: int = Field(8, description="Queued or running runs per topic before the sensor waits")
    lag_alert_records: int = Field(500_000, description="The lag check warns above this many unread records")
    stale_run_seconds: int = Field(
        300, description="A run created but not launched for this long is cancelled and its range requested again"
    )
    retry_backoff_seconds: float = Field(
        10.0, description="Wait before re-requesting a failed range; doubles with each further failure"
    )
    retry_max_backoff_seconds: float = Field(60.0, description="The longest wait between two re-requests")
