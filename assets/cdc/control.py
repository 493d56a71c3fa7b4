"""Register a connector idempotently, wait for it to run, and remove it without leaving its slot behind."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from assets.cdc.connector import CdcConnectorConfig, connector_config
from assets.cdc.slot import drop_slot
from resources.cdc_source import CdcSourceResource
from resources.kafka_connect import KafkaConnectError, KafkaConnectResource
from resources.redact import redact

Log = Callable[[str], None]


@dataclass(frozen=True)
class Registration:
    """What registering did: whether the connector was new, whether failed parts were restarted, its status."""

    created: bool
    restarted_failed: bool
    status: dict


def states(status: dict) -> tuple[str, list[str]]:
    """The connector's state and its tasks' states."""
    return status["connector"]["state"], [task["state"] for task in status.get("tasks", [])]


def failures(name: str, status: dict) -> list[str]:
    """A line per failed part of the connector, with Connect's trace (its first lines, secrets masked)."""
    parts = [("connector", status["connector"])] + [(f"task {t['id']}", t) for t in status.get("tasks", [])]
    return [
        f"connector {name}: {what} FAILED on {part.get('worker_id', '?')}:\n{trace_head(part.get('trace', ''))}"
        for what, part in parts
        if part["state"] == "FAILED"
    ]


def trace_head(trace: str, lines: int = 12) -> str:
    """The Java trace without its stack frames: the exception and every 'Caused by' line, at most `lines`."""
    kept = [line for line in trace.splitlines() if line.strip() and not line.lstrip().startswith(("at ", "..."))]
    return redact("\n".join(kept[:lines]))


def wait_for(connect: KafkaConnectResource, name: str, wanted: str, timeout: float, grace: float = 0.0) -> dict:
    """Poll until the connector and every task are `wanted` on two polls in a row (a task that fails right after
    starting is caught); KafkaConnectError with Connect's trace when a part fails (FAILED seen during the first
    `grace` seconds, before a restart shows, is waited out) or time runs out."""
    began, seen = time.monotonic(), 0
    while True:
        status = connect.status(name)
        if status is None:
            raise KafkaConnectError(f"connector {name} is gone from {connect.url}")
        failed = failures(name, status)
        if failed and time.monotonic() - began >= grace:
            raise KafkaConnectError("\n".join(failed))
        connector, tasks = states(status)
        done = connector == wanted and all(t == wanted for t in tasks) and (bool(tasks) or wanted != "RUNNING")
        seen = seen + 1 if done else 0
        if seen >= 2:
            return status
        if time.monotonic() - began > timeout:
            raise KafkaConnectError(
                f"connector {name} is {connector}, tasks {tasks or 'none'} after {timeout:.0f}s "
                f"(waited for {wanted}); see `lakehouse logs connect`"
            )
        time.sleep(1.0)


def _first_status(connect: KafkaConnectResource, name: str, timeout: float) -> dict | None:
    """The connector's status once it shows its tasks (or has failed); None if not in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = connect.status(name)
        if status and (status.get("tasks") or states(status)[0] == "FAILED"):
            return status
        time.sleep(0.5)
    return None


def register(
    config: CdcConnectorConfig, connect: KafkaConnectResource, source: CdcSourceResource, log: Log
) -> Registration:
    """Validate and PUT the connector's config (creating or updating it), restart its failed parts, wait until it
    runs. A connector paused or stopped on purpose is left so (resume it with its job) and reported as it is."""
    name = config.connector_name
    body = connector_config(config, source)
    errors = connect.validate(name, body)
    if errors:
        raise KafkaConnectError(
            f"Kafka Connect at {connect.url} rejects the config of connector {name}:\n" + redact("\n".join(errors))
        )
    before = connect.status(name)  # an update restarts the connector: its state just after says little
    intent = states(before)[0] if before and states(before)[0] in ("PAUSED", "STOPPED") else "RUNNING"
    created = connect.put_config(name, body)
    log(
        f"connector {name} {'created' if created else 'config updated'} on {connect.url}; "
        f"topic {config.topic()}, slot {config.slot}, publication {config.publication}"
    )
    if intent != "RUNNING":
        log(f"connector {name} is {intent} on purpose: run cdc_resume_connector to let it run")
        return Registration(
            created, False, wait_for(connect, name, intent, config.wait_seconds, grace=config.wait_seconds)
        )
    status = _first_status(connect, name, config.wait_seconds)
    failed = failures(name, status) if status else []
    if failed:
        log("restarting its failed parts:\n" + "\n".join(failed))
        connect.restart(name, only_failed=True)
    return Registration(
        created, bool(failed), wait_for(connect, name, "RUNNING", config.wait_seconds, grace=10.0 if failed else 0.0)
    )


def remove(
    connect: KafkaConnectResource, source: CdcSourceResource, name: str, log: Log, timeout: float = 120.0
) -> tuple[str, bool]:
    """Stop the connector, forget its offsets, delete it and drop its replication slot (so a later connector of
    the same name starts with a fresh snapshot, and no slot keeps WAL forever); return (slot, dropped)."""
    config = connect.config(name)
    if config is None:
        raise KafkaConnectError(f"Kafka Connect at {connect.url} has no connector named {name}", status=404)
    slot = config.get("slot.name") or "debezium"
    connect.stop(name)
    wait_for(connect, name, "STOPPED", timeout, grace=timeout)  # a failed task is what one often removes
    connect.reset_offsets(name)
    connect.delete(name)
    dropped = drop_slot(source, slot)
    log(
        f"connector {name} removed, its offsets forgotten; replication slot {slot} "
        + ("dropped" if dropped else "did not exist")
    )
    return slot, dropped
