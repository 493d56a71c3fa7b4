"""Kafka Connect's and Postgres' figures about a connector, as Dagster metadata."""

from __future__ import annotations

import psycopg
from dagster import MetadataValue

from assets.cdc.control import states
from assets.cdc.slot import slot_figures
from resources.cdc_source import CdcSourceResource
from resources.kafka_connect import KafkaConnectResource
from resources.redact import redact


def lsn_text(lsn: int) -> str:
    """A log sequence number as Postgres prints it (16/B374D848)."""
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def connector_figures(
    connect: KafkaConnectResource, source: CdcSourceResource, name: str, status: dict
) -> dict[str, object]:
    """The connector's and tasks' states, its topics, the source position it committed and its slot's WAL."""
    config = connect.config(name) or {}
    connector, tasks = states(status)
    offsets = connect.offsets(name)
    offset = (offsets[0].get("offset") or {}) if offsets else {}
    return {
        "connector": name,
        "connector_state": connector,
        "task_states": ", ".join(tasks) or "none",
        "worker_id": status["connector"].get("worker_id", ""),
        "topics": ", ".join(connect.topics(name)),
        "committed_lsn": lsn_text(offset["lsn"]) if "lsn" in offset else "",
        "committed_tx_id": int(offset.get("txId") or 0),
        "snapshot_in_progress": bool(offset.get("snapshot")) and not offset.get("snapshot_completed", False),
        "connect_status": MetadataValue.url(f"{connect.url.rstrip('/')}/connectors/{name}/status"),
        **_slot(source, config.get("slot.name", "")),
    }


def _slot(source: CdcSourceResource, slot: str) -> dict[str, object]:
    """The slot's figures; what went wrong instead when Postgres cannot be asked (Connect's verdict still counts)."""
    try:
        figures = slot_figures(source, slot)
    except psycopg.Error as exc:
        return {"slot": slot, "slot_error": redact(str(exc), [source.password])}
    return figures.metadata() if figures else {"slot": slot, "slot_active": False}
