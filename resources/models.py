"""Settings of the SQL models, as a resource: batch bounds and the event-time window rules (DuckDB's memory is
resources/duckdb.py's)."""

from __future__ import annotations

from dagster import ConfigurableResource
from pydantic import Field


class ModelSettings(ConfigurableResource):
    """How much one models run takes on and how windows treat time (defaults in .env.example)."""

    max_objects_per_batch: int = Field(2000, description="Input objects one batch of a model reads at most")
    max_bytes_per_batch: int = Field(
        512 * 1024 * 1024, description="Input bytes one batch reads at most (at least one object)"
    )
    max_records_per_batch: int = Field(
        1_000_000, description="Input records one batch reads at most (at least one object): bounds DuckDB's memory"
    )
    max_batches_per_run: int = Field(20, description="Batches one run takes; the rest is left to the next run")
    max_out_of_orderness_seconds: float = Field(10, description="watermark = max event time - this")
    allowed_lateness_seconds: float = Field(60, description="Events later than watermark - this are late")
    max_future_seconds: float = Field(300, description="Event times beyond now + this do not move the watermark")
