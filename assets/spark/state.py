"""What the platform expects of each Spark query and what its driver last said (lakehouse_state.spark_queries).

The driver writes its own row (status, progress, failure, heartbeat); Dagster's jobs write what they want of it
(desired_state). Postgres is the one place both reach, wherever the driver runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg

_COLUMNS = (
    "job_name, pipeline, desired_state, status, host, pid, query_id, run_id, progress, error, sink_batch_id,"
    " heartbeat_at"
)
# A driver writes its row at least this often while it runs; silent for longer, it is gone.
HEARTBEAT_SECONDS = 2.0
SILENT_SECONDS = 30.0


@dataclass(frozen=True)
class QueryRow:
    """One row of lakehouse_state.spark_queries."""

    job_name: str
    pipeline: str
    desired_state: str  # running | stopped
    status: str  # starting | running | stopped | failed
    host: str | None
    pid: int | None
    query_id: str | None
    run_id: str | None
    progress: dict | None
    error: str | None
    sink_batch_id: int | None
    heartbeat_at: datetime | None

    def silent_for(self) -> float:
        """Seconds since the driver last wrote its row."""
        if self.heartbeat_at is None:
            return float("inf")
        return (datetime.now(UTC) - self.heartbeat_at).total_seconds()

    def alive(self) -> bool:
        """A driver is running this query (or starting it) and wrote its row recently."""
        return self.status in ("starting", "running") and self.silent_for() < SILENT_SECONDS


def get(pg_url: str, job_name: str) -> QueryRow | None:
    with psycopg.connect(pg_url) as conn:
        row = conn.execute(
            f"SELECT {_COLUMNS} FROM lakehouse_state.spark_queries WHERE job_name = %s", (job_name,)
        ).fetchone()
    return QueryRow(*row) if row else None


def expected_running(pg_url: str) -> list[QueryRow]:
    """Every query the platform started and has not stopped."""
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute(
            f"SELECT {_COLUMNS} FROM lakehouse_state.spark_queries WHERE desired_state = 'running' ORDER BY job_name"
        ).fetchall()
    return [QueryRow(*row) for row in rows]


def expect(pg_url: str, job_name: str, pipeline: str) -> None:
    """Dagster starts the query: it should run; its driver is starting (the last failure is forgotten)."""
    with psycopg.connect(pg_url) as conn:
        conn.execute(
            "INSERT INTO lakehouse_state.spark_queries (job_name, pipeline, desired_state, status, heartbeat_at)"
            " VALUES (%s, %s, 'running', 'starting', now()) ON CONFLICT (job_name) DO UPDATE SET"
            " pipeline = EXCLUDED.pipeline, desired_state = 'running', status = 'starting', error = NULL,"
            " pid = NULL, heartbeat_at = now(), updated_at = now()",
            (job_name, pipeline),
        )


def desire_stop(pg_url: str, job_name: str) -> None:
    """Dagster stops the query: its driver sees this within a heartbeat and stops it."""
    with psycopg.connect(pg_url) as conn:
        conn.execute(
            "UPDATE lakehouse_state.spark_queries SET desired_state = 'stopped', updated_at = now()"
            " WHERE job_name = %s",
            (job_name,),
        )


def report(conn: psycopg.Connection, job_name: str, **columns: object) -> str:
    """The driver writes its status (and heartbeat); returns what is desired of it now."""
    progress = columns.get("progress")
    if progress is not None and not isinstance(progress, str):  # Spark's StreamingQueryProgress: its own JSON
        columns["progress"] = progress.json if hasattr(progress, "json") else json.dumps(progress)
    sets = "".join(f", {name} = %s" for name in columns)
    row = conn.execute(
        f"UPDATE lakehouse_state.spark_queries SET heartbeat_at = now(), updated_at = now(){sets}"
        " WHERE job_name = %s RETURNING desired_state",
        (*columns.values(), job_name),
    ).fetchone()
    return row[0] if row else "stopped"
