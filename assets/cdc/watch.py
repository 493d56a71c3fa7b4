"""Judge the Debezium connectors on the worker: healthy ones give figures, the others a loud reason."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from assets.cdc.connector import CONNECTOR_CLASS
from assets.cdc.control import failures, states
from assets.cdc.figures import connector_figures
from resources.cdc_source import CdcSourceResource
from resources.kafka_connect import KafkaConnectResource

# How long a connector or task may be unassigned or restarting (a rebalance, a restart) before it is reported.
NOT_RUNNING_GRACE_SECONDS = 45.0
SETTLED = ("RUNNING", "PAUSED", "STOPPED")  # paused and stopped are what someone asked for


@dataclass
class Verdict:
    """What one look at the worker found."""

    figures: dict[str, dict] = field(default_factory=dict)  # connector name -> metadata of a settled connector
    problems: list[str] = field(default_factory=list)
    memory: dict[str, float] = field(default_factory=dict)  # connector name -> since when it is not settled


def assess(connect: KafkaConnectResource, source: CdcSourceResource, memory: dict[str, float],
           now: float | None = None) -> Verdict:
    """Look at every Debezium PostgreSQL connector once; `memory` is what the previous look remembered."""
    now = time.time() if now is None else now
    verdict = Verdict()
    for name, entry in sorted(connect.connectors().items()):
        if entry["info"]["config"].get("connector.class") != CONNECTOR_CLASS:
            continue
        status = entry["status"]
        failed = failures(name, status)
        connector, tasks = states(status)
        if failed:
            verdict.problems.extend(failed)
        elif connector in SETTLED and all(t in SETTLED for t in tasks) and (tasks or connector != "RUNNING"):
            verdict.figures[name] = connector_figures(connect, source, name, status)
        else:  # unassigned, restarting, or running without its task yet: fine for a while
            since = verdict.memory[name] = memory.get(name, now)
            if now - since >= NOT_RUNNING_GRACE_SECONDS:
                verdict.problems.append(f"connector {name} has been {connector} (tasks: {', '.join(tasks) or 'none'}) "
                                        f"for {now - since:.0f}s; see `lakehouse logs connect`")
    return verdict
