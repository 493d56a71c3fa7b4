"""Spark's own figures of a query, from its last StreamingQueryProgress, as Dagster metadata."""

from __future__ import annotations

from assets.spark.state import QueryRow


def progress_figures(row: QueryRow) -> dict[str, object]:
    """Input and processed rows/s, the batch and its duration, the watermark and the state's rows of the query's
    last micro-batch (what Spark's UI shows on its Structured Streaming tab)."""
    progress = row.progress or {}
    states = progress.get("stateOperators") or []
    figures: dict[str, object] = {
        "spark_status": row.status,
        "spark_query_id": row.query_id or "",
        "spark_run_id": row.run_id or "",
        "driver": f"pid {row.pid} on {row.host}" if row.pid else "",
        "heartbeat_seconds_ago": round(row.silent_for(), 1),
    }
    if not progress:
        return figures
    return {
        **figures,
        "batch_id": int(progress.get("batchId", -1)),
        "batch_timestamp": progress.get("timestamp", ""),
        "input_rows": int(progress.get("numInputRows", 0)),
        "input_rows_per_second": round(float(progress.get("inputRowsPerSecond") or 0.0), 1),
        "processed_rows_per_second": round(float(progress.get("processedRowsPerSecond") or 0.0), 1),
        "batch_duration_ms": int((progress.get("durationMs") or {}).get("triggerExecution", 0)),
        "watermark": (progress.get("eventTime") or {}).get("watermark", ""),
        "state_rows": sum(int(s.get("numRowsTotal", 0)) for s in states),
        "state_memory_bytes": sum(int(s.get("memoryUsedBytes", 0)) for s in states),
        "late_rows_dropped": sum(int(s.get("numRowsDroppedByWatermark", 0)) for s in states),
        "sink_batch_id": row.sink_batch_id if row.sink_batch_id is not None else -1,
    }
