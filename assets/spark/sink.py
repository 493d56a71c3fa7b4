"""The Postgres sink of orders_per_minute: a micro-batch's windows upserted once per batch id."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg

TABLE = "app.orders_per_minute_spark"
COLUMNS = ("window_start", "window_end", "orders", "revenue", "created", "paid", "shipped", "cancelled")


def _utc(value: Any) -> Any:
    """PySpark hands timestamps over as naive datetimes in the driver's local time, which the launcher sets to UTC."""
    return value.replace(tzinfo=UTC) if isinstance(value, datetime) and value.tzinfo is None else value


class WindowSink:
    """Called by foreachBatch in the driver: one transaction upserts the windows and records the batch id, and a
    batch id at or below the recorded one (Spark replaying a batch after a restart) changes nothing."""

    def __init__(self, pg_url: str, job_name: str) -> None:
        self.pg_url, self.job_name = pg_url, job_name

    def __call__(self, rows: list[Any], batch_id: int) -> None:
        with psycopg.connect(self.pg_url) as conn:
            done = conn.execute(
                "SELECT sink_batch_id FROM lakehouse_state.spark_queries WHERE job_name = %s FOR UPDATE",
                (self.job_name,),
            ).fetchone()
            if done and done[0] is not None and batch_id <= done[0]:
                return
            updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in COLUMNS[1:])
            with conn.cursor() as cur:
                cur.executemany(
                    f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))})"
                    f" ON CONFLICT (window_start) DO UPDATE SET {updates}, updated_at = now()",
                    [tuple(_utc(row[c]) for c in COLUMNS) for row in rows],
                )
            conn.execute(
                "UPDATE lakehouse_state.spark_queries SET sink_batch_id = %s WHERE job_name = %s",
                (batch_id, self.job_name),
            )
