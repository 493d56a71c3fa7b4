"""Judge the Debezium connectors on the worker: healthy ones give figures, the others a loud reason."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from assets.cdc.connector import CONNECTOR_CLASS
from assets.cdc.control import failures, states
from assets.cdc.figures import connector_figures
from resources.cdc_source import CdcSourceResource
from resources.kafka_connect import KafkaConnectResource
from resources.redact import redact

# How long a connector may be unassigned, restarting, or running without reading its slot before it is reported.
NOT_RUNNING_GRACE_SECONDS = 45.0
SETTLED = ("RUNNING", "PAUSED", "STOPPED")  # paused and stopped are what someone asked for


@dataclass
class Verdict:
    """What one look at the worker found."""

    figures: dict[str, dict] = field(default_factory=dict)  # connector name -> metadata
    problems: list[str] = field(default_factory=list)
    memory: dict[str, float] = field(default_factory=dict)  # connector name -> since when it is not healthy


def stalled(figures: dict) -> bool:
    """Connect says RUNNING and the snapshot is over, yet no connection reads the slot (or Postgres cannot be
    asked): Debezium may be retrying a start that keeps failing (a login refused, the database unreachable), and
    Connect shows such a task as RUNNING."""
    unread = figures.get("slot_active") is False or "slot_error" in figures
    return (
        figures["connector_state"] == "RUNNING"
        and bool(figures["committed_lsn"])
        and not figures["snapshot_in_progress"]
        and unread
    )


def _stall_problem(connect: KafkaConnectResource, name: str, config: dict, figures: dict, seconds: float) -> str:
    slot = figures["slot"]
    what = (
        f"its replication slot {slot} could not be checked for {seconds:.0f}s ({figures['slot_error']})"
        if "slot_error" in figures
        else f"nothing has read its replication slot {slot} for {seconds:.0f}s"
    )
    errors = connect.validate(name, {k: v for k, v in config.items() if k != "name"})
    why = (
        "Connect's validation of its config says:\n" + "\n".join(errors)
        if errors
        else "its config validates; `lakehouse logs connect` shows what the task retries"
    )
    return redact(f"connector {name} is RUNNING but {what}: Debezium may be retrying a start that fails. {why}")


def assess(
    connect: KafkaConnectResource, source: CdcSourceResource, memory: dict[str, float], now: float | None = None
) -> Verdict:
    """Look at every Debezium PostgreSQL connector once; `memory` is what the previous look remembered (kept when
    problems are raised, so a connector that stays unhealthy keeps its first-seen time)."""
    now = time.time() if now is None else now
    verdict = Verdict()
    for name, entry in sorted(connect.connectors().items()):
        if entry["info"]["config"].get("connector.class") != CONNECTOR_CLASS:
            continue
        status = entry["status"]
        failed = failures(name, status)
        if failed:
            verdict.problems.extend(failed)
            continue
        connector, tasks = states(status)
        settled = connector in SETTLED and all(t in SETTLED for t in tasks) and (bool(tasks) or connector != "RUNNING")
        figures = connector_figures(connect, source, name, status) if settled else None
        if figures is not None and not stalled(figures):
            verdict.figures[name] = figures
            continue
        since = verdict.memory[name] = memory.get(name, now)
        if now - since < NOT_RUNNING_GRACE_SECONDS:
            continue
        if figures is not None:
            verdict.problems.append(_stall_problem(connect, name, entry["info"]["config"], figures, now - since))
        else:
            verdict.problems.append(
                f"connector {name} has been {connector} (tasks: {', '.join(tasks) or 'none'}) "
                f"for {now - since:.0f}s; see `lakehouse logs connect`"
            )
    return verdict
