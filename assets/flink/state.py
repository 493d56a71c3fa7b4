"""What the platform expects of each Flink job (lakehouse_state.flink_jobs): running or stopped, and where."""

from __future__ import annotations

from dataclasses import dataclass

from resources.postgres import PostgresResource

_SELECT = "SELECT job_name, pipeline, job_id, desired_state, savepoint_path FROM lakehouse_state.flink_jobs"


@dataclass(frozen=True)
class ExpectedJob:
    """One row of lakehouse_state.flink_jobs."""

    job_name: str
    pipeline: str
    job_id: str | None
    desired_state: str  # running | stopped
    savepoint_path: str | None


def expected(postgres: PostgresResource, job_name: str) -> ExpectedJob | None:
    """The row of `job_name`, or None when the platform never submitted it."""
    with postgres.connect() as conn:
        row = conn.execute(f"{_SELECT} WHERE job_name = %s", (job_name,)).fetchone()
    return ExpectedJob(*row) if row else None


def expected_running(postgres: PostgresResource) -> list[ExpectedJob]:
    """Every job the platform submitted and has not stopped."""
    with postgres.connect() as conn:
        rows = conn.execute(f"{_SELECT} WHERE desired_state = 'running' ORDER BY job_name").fetchall()
    return [ExpectedJob(*row) for row in rows]


def record(
    postgres: PostgresResource,
    job_name: str,
    pipeline: str,
    job_id: str,
    desired_state: str,
    savepoint_path: str | None,
) -> None:
    """Upsert the row of `job_name`."""
    with postgres.connect() as conn:
        conn.execute(
            "INSERT INTO lakehouse_state.flink_jobs (job_name, pipeline, job_id, desired_state, savepoint_path)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (job_name) DO UPDATE SET pipeline = EXCLUDED.pipeline,"
            " job_id = EXCLUDED.job_id, desired_state = EXCLUDED.desired_state,"
            " savepoint_path = EXCLUDED.savepoint_path, updated_at = now()",
            (job_name, pipeline, job_id, desired_state, savepoint_path),
        )
