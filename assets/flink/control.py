"""Submit a Flink SQL pipeline through the SQL Gateway, stop it with a savepoint, resume it from one."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from assets.flink import state
from assets.flink.pipelines import FlinkPipelineConfig, Pipeline, session_properties, sql_values
from assets.flink.sql import render
from resources.flink import FlinkError, FlinkResource
from resources.object_store import ObjectStoreResource
from resources.postgres import PostgresResource

Log = Callable[[str], None]


@dataclass(frozen=True)
class Submission:
    """The outcome of a submission: the job, whether it was already running, and what was sent."""

    job_name: str
    job_id: str
    already_running: bool
    statements: list[str]
    savepoint_path: str | None = None


@dataclass(frozen=True)
class PipelineClients:
    """The resources a pipeline is run with."""

    flink: FlinkResource
    postgres: PostgresResource
    object_store: ObjectStoreResource
    bootstrap_servers: str

    def secrets(self) -> list[str]:
        """What must never be shown: PG_URL (its password) and the S3 secret key."""
        return [self.postgres.url, self.object_store.secret_key]


def _statements(pipeline: Pipeline, config: FlinkPipelineConfig, clients: PipelineClients) -> list[str]:
    return render(
        pipeline.name,
        sql_values(
            pipeline,
            config,
            clients.flink,
            clients.bootstrap_servers,
            clients.object_store.bucket,
            clients.postgres.url,
        ),
    )


def wait_until_running(flink: FlinkResource, job_id: str, timeout: float) -> None:
    """Wait until the job is RUNNING and has completed a checkpoint; FlinkError (with the root cause) if not."""
    flink.wait_for_job(job_id, ("RUNNING",), timeout=timeout)
    deadline = time.monotonic() + timeout
    while flink.checkpoints(job_id).get("counts", {}).get("completed", 0) < 1:
        info = flink.job(job_id)
        if info["state"] != "RUNNING":
            raise FlinkError(
                f"job {job_id} went {info['state']} before its first checkpoint" + flink.root_exception(job_id)
            )
        if time.monotonic() > deadline:
            raise FlinkError(f"job {job_id} completed no checkpoint in {timeout:.0f}s (see its Checkpoints tab)")
        time.sleep(1)


def submit(
    pipeline: Pipeline,
    config: FlinkPipelineConfig,
    clients: PipelineClients,
    log: Log,
    savepoint_path: str | None = None,
) -> Submission:
    """Start the pipeline's job (from `savepoint_path` when given) unless a job of its name is active."""
    config = config.resolved(clients.flink)
    job_name = config.job_name_for(pipeline)
    statements = _statements(pipeline, config, clients)  # fails on a missing setting before Flink is asked
    active = clients.flink.active_jobs(job_name)
    if active:
        job_id = active[0]["jid"]
        log(f"{job_name} is already {active[0]['state']} as Flink job {job_id}: not starting a second one")
        state.record(clients.postgres, job_name, pipeline.name, job_id, "running", savepoint_path)
        return Submission(job_name, job_id, True, statements)
    properties = session_properties(pipeline, config)
    if savepoint_path:
        properties["execution.savepoint.path"] = savepoint_path
    session = clients.flink.open_session(properties)
    job_id = None
    try:
        for statement in statements:
            job_id = clients.flink.execute(session, statement).job_id or job_id
    finally:
        clients.flink.close_session(session)
    if not job_id:
        raise FlinkError(f"the statements of {pipeline.name} started no Flink job")
    log(f"submitted {job_name} as Flink job {job_id}" + (f" from {savepoint_path}" if savepoint_path else ""))
    state.record(clients.postgres, job_name, pipeline.name, job_id, "running", savepoint_path)
    wait_until_running(clients.flink, job_id, config.wait_seconds)
    return Submission(job_name, job_id, False, statements, savepoint_path)


def stop_with_savepoint(
    pipeline: Pipeline, config: FlinkPipelineConfig, clients: PipelineClients, log: Log
) -> tuple[str, str]:
    """Stop the pipeline's running job with a savepoint; return (job id, savepoint path)."""
    config = config.resolved(clients.flink)
    job_name = config.job_name_for(pipeline)
    active = [job for job in clients.flink.active_jobs(job_name) if job["state"] == "RUNNING"]
    if not active:
        raise FlinkError(
            f"no RUNNING Flink job named {job_name} to stop (jobs at {clients.flink.rest_url}/#/job/running)"
        )
    job_id = active[0]["jid"]
    target = clients.object_store.uri(f"flink/savepoints/{job_name}")
    log(f"stopping {job_name} (Flink job {job_id}) with a savepoint under {target}")
    path = clients.flink.stop_with_savepoint(job_id, target)
    clients.flink.wait_for_job(job_id, ("FINISHED",), timeout=120)
    state.record(clients.postgres, job_name, pipeline.name, job_id, "stopped", path)
    log(f"{job_name} stopped; savepoint {path}")
    return job_id, path


def resume(pipeline: Pipeline, config: FlinkPipelineConfig, clients: PipelineClients, log: Log) -> Submission:
    """Start the pipeline again from the savepoint its last stop left."""
    config = config.resolved(clients.flink)
    job_name = config.job_name_for(pipeline)
    row = state.expected(clients.postgres, job_name)
    if row is None or not row.savepoint_path:
        raise FlinkError(
            f"no savepoint recorded for {job_name}: stop it with the job flink_stop_with_savepoint first "
            "(or start it afresh with its submit job)"
        )
    return submit(pipeline, config, clients, log, savepoint_path=row.savepoint_path)
