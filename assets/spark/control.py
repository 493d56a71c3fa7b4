"""Start a Spark pipeline's driver (unless one runs it), stop it, resume it from its checkpoint."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

from assets.spark import launcher, state
from assets.spark.pipelines import Pipeline, SparkPipelineConfig
from resources.object_store import ObjectStoreResource
from resources.postgres import PostgresResource
from resources.spark import SparkResource

Log = Callable[[str], None]


class SparkError(RuntimeError):
    """A driver could not start its query, or failed; the message carries Spark's words (secrets masked)."""


@dataclass(frozen=True)
class PipelineClients:
    """The resources a pipeline is run with."""

    spark: SparkResource
    postgres: PostgresResource
    object_store: ObjectStoreResource
    bootstrap_servers: str

    def secrets(self) -> list[str]:
        """What must never be shown: PG_URL (its password) and the S3 secret key."""
        return [self.postgres.url, self.object_store.secret_key]


@dataclass(frozen=True)
class Started:
    """The outcome of a start: the driver's row, and whether it was already running."""

    job_name: str
    already_running: bool
    row: state.QueryRow


def checkpoint_uri(clients: PipelineClients, job_name: str) -> str:
    return f"s3a://{clients.object_store.bucket}/spark/checkpoints/{job_name}"


def _settings(pipeline: Pipeline, config: SparkPipelineConfig, clients: PipelineClients, job_name: str) -> dict:
    spark, store = clients.spark, clients.object_store
    return {
        "pipeline": pipeline.name,
        "topic": config.topic,
        "master": spark.master,
        "jars": [str(jar) for jar in spark.jars()],
        "driver_memory": spark.driver_memory,
        "shuffle_partitions": spark.shuffle_partitions,
        "ui_port": spark.ui_port,
        "trigger_interval": config.trigger_interval or spark.trigger_interval,
        "watermark_delay_seconds": config.watermark_delay_seconds,
        "max_offsets_per_trigger": config.max_offsets_per_trigger,
        "max_message_bytes": spark.max_message_bytes,
        "kafka_bootstrap": clients.bootstrap_servers,
        "bucket": store.bucket,
        "s3_endpoint": store.endpoint,
        "s3_region": store.region,
        "checkpoint": checkpoint_uri(clients, job_name),
    }


def _secrets_env(clients: PipelineClients) -> dict[str, str]:
    return {
        "PG_URL": clients.postgres.url,
        "AWS_ACCESS_KEY_ID": clients.object_store.access_key,
        "AWS_SECRET_ACCESS_KEY": clients.object_store.secret_key,
    }


def _failure(clients: PipelineClients, job_name: str, what: str) -> SparkError:
    from resources.redact import redact

    tail = launcher.log_tail(clients.spark, job_name)
    return SparkError(
        redact(f"{what}\n--- last lines of {clients.spark.log_file(job_name)} ---\n{tail}", clients.secrets())
    )


def wait_until_running(clients: PipelineClients, job_name: str, pid: int, timeout: float) -> state.QueryRow:
    """Wait until the driver says its query runs; SparkError with Spark's exception (or the log) if it does not."""
    deadline = time.monotonic() + timeout
    while True:
        row = state.get(clients.postgres.url, job_name)
        if row and row.status == "running" and row.pid == pid:
            return row
        if row and row.status == "failed":
            raise _failure(clients, job_name, f"the Spark query {job_name} failed: {row.error}")
        if not launcher.alive(pid):
            raise _failure(clients, job_name, f"the Spark driver of {job_name} (pid {pid}) exited while starting")
        if time.monotonic() > deadline:
            raise _failure(
                clients, job_name, f"the Spark driver of {job_name} did not start its query in {timeout:.0f}s"
            )
        time.sleep(1)


def start(pipeline: Pipeline, config: SparkPipelineConfig, clients: PipelineClients, log: Log) -> Started:
    """Start the pipeline's driver unless one is running it; it continues from the query's checkpoint if any."""
    config = config.resolved(clients.spark)
    job_name = config.job_name_for(pipeline)
    row = state.get(clients.postgres.url, job_name)
    if row and row.alive():
        log(f"{job_name} is already {row.status} (driver pid {row.pid} on {row.host}): not starting a second one")
        return Started(job_name, True, row)
    state.expect(clients.postgres.url, job_name, pipeline.name)
    pid = launcher.launch(
        clients.spark, pipeline.name, job_name, _settings(pipeline, config, clients, job_name), _secrets_env(clients)
    )
    log(
        f"started the Spark driver of {job_name} (pid {pid}, master {clients.spark.master}, checkpoint "
        f"{checkpoint_uri(clients, job_name)}); log {clients.spark.log_file(job_name)}"
    )
    row = wait_until_running(clients, job_name, pid, config.wait_seconds)
    log(f"{job_name} runs as Spark query {row.query_id} (run {row.run_id})")
    return Started(job_name, False, row)


def stop(
    pipeline: Pipeline, config: SparkPipelineConfig, clients: PipelineClients, log: Log, timeout: float = 120.0
) -> state.QueryRow:
    """Ask the driver to stop its query (the checkpoint keeps where it was) and wait until it has."""
    config = config.resolved(clients.spark)
    job_name = config.job_name_for(pipeline)
    row = state.get(clients.postgres.url, job_name)
    if row is None or not row.alive():
        raise SparkError(
            f"no running Spark driver for {job_name} to stop" + (f" (its last status: {row.status})" if row else "")
        )
    state.desire_stop(clients.postgres.url, job_name)
    log(f"asked the driver of {job_name} (pid {row.pid} on {row.host}) to stop its query")
    deadline = time.monotonic() + timeout
    while True:
        now = state.get(clients.postgres.url, job_name)
        if now and now.status in ("stopped", "failed") and not launcher.alive(row.pid):
            log(f"{job_name} {now.status}; checkpoint {checkpoint_uri(clients, job_name)}")
            return now
        if time.monotonic() > deadline:
            if launcher.alive(row.pid):  # a driver on this host that does not answer: SIGTERM stops it cleanly
                os.kill(row.pid, signal.SIGTERM)
                deadline += 60
            else:
                raise SparkError(f"the driver of {job_name} did not stop in {timeout:.0f}s")
        time.sleep(1)


def resume(pipeline: Pipeline, config: SparkPipelineConfig, clients: PipelineClients, log: Log) -> Started:
    """Start the pipeline again after a stop: from its checkpoint, so nothing is read twice or skipped."""
    config = config.resolved(clients.spark)
    job_name = config.job_name_for(pipeline)
    row = state.get(clients.postgres.url, job_name)
    if row is None or row.status not in ("stopped", "failed"):
        raise SparkError(
            f"{job_name} has no stopped query to resume"
            + (f" (it is {row.status})" if row else " (it never ran)")
            + ": start it with its start job"
        )
    return start(pipeline, config, clients, log)
