"""Flink's own figures about a job, as Dagster metadata: state, uptime, checkpoints, records, backpressure."""

from __future__ import annotations

from datetime import datetime, timezone

from dagster import MetadataValue

from resources.flink import FlinkResource


def _iso(ms: int | None) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).isoformat(timespec="seconds") if ms else ""


def _vertex(flink: FlinkResource, job_id: str, vertex: dict) -> dict[str, object]:
    metrics = vertex.get("metrics", {})
    figures: dict[str, object] = {
        "name": vertex["name"],
        "parallelism": vertex["parallelism"],
        "status": vertex["status"],
        "records_in": metrics.get("read-records", 0),
        "records_out": metrics.get("write-records", 0),
        "bytes_in": metrics.get("read-bytes", 0),
        "bytes_out": metrics.get("write-bytes", 0),
    }
    if vertex["status"] == "RUNNING":
        figures["backpressure"] = flink.backpressure(job_id, vertex["id"])
    if vertex["name"].startswith("Source:"):
        # Chained operators exchange no network records: read the source operator's own counters.
        wanted = [
            name
            for name in flink.vertex_metric_names(job_id, vertex["id"])
            if name.startswith("Source__") and name.endswith((".numRecordsOut", ".numBytesIn"))
        ]
        operator = flink.vertex_metrics(job_id, vertex["id"], wanted)
        figures["source_records_read"] = sum(v for k, v in operator.items() if k.endswith(".numRecordsOut"))
        figures["source_bytes_read"] = sum(v for k, v in operator.items() if k.endswith(".numBytesIn"))
    return figures


def job_figures(flink: FlinkResource, job_id: str) -> dict[str, object]:
    """Dagster metadata describing Flink job `job_id` right now."""
    job = flink.job(job_id)
    checkpoints = flink.checkpoints(job_id)
    latest = (checkpoints.get("latest") or {}).get("completed") or {}
    restored = (checkpoints.get("latest") or {}).get("restored") or {}
    vertices = [_vertex(flink, job_id, v) for v in job.get("vertices", [])]
    source = next((v for v in vertices if "source_records_read" in v), {})
    return {
        "flink_job_id": job_id,
        "flink_job_name": job["name"],
        "flink_state": job["state"],
        "flink_ui": MetadataValue.url(f"{flink.rest_url}/#/job/running/{job_id}/overview"),
        "started_at": _iso(job.get("start-time")),
        "uptime_seconds": round(job.get("duration", 0) / 1000, 1),
        "restarts": int(flink.job_metric(job_id, "numRestarts") or 0),
        "checkpoints_completed": checkpoints.get("counts", {}).get("completed", 0),
        "checkpoints_failed": checkpoints.get("counts", {}).get("failed", 0),
        "last_checkpoint_id": latest.get("id", 0),
        "last_checkpoint_at": _iso(latest.get("latest_ack_timestamp")),
        "last_checkpoint_bytes": latest.get("checkpointed_size", 0),
        "restored_from": restored.get("external_path", ""),
        "records_read": int(source.get("source_records_read", 0)),
        "bytes_read": int(source.get("source_bytes_read", 0)),
        "backpressure": max(
            (v.get("backpressure", "ok") for v in vertices),
            key=["unknown", "ok", "low", "high"].index,
            default="unknown",
        ),
        "vertices": MetadataValue.json(vertices),
    }
