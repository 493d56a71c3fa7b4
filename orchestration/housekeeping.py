"""The housekeeping job: keeps the cost of running independent of how long the platform has run.

At the dev generator's rate the platform makes about 17,000 bronze runs a day; without pruning, Dagster's run and
event tables, the asset-check history, the Flink sensor's run-less observations, the stack's log files and the
staging tables a failed models run leaves behind all grow for ever. Each op below is independent: one failing (say
Postgres restarting) does not stop the others, and the run fails so the failure alert names it.
"""
# No `from __future__ import annotations` here: Dagster reads the annotations of op functions at runtime.

import json
import shutil
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from dagster import (
    DagsterInstance,
    DagsterRunStatus,
    DefaultScheduleStatus,
    OpExecutionContext,
    RunsFilter,
    ScheduleDefinition,
    in_process_executor,
    job,
    op,
)
from psycopg import sql
from sqlalchemy import bindparam, text

from resources.operations import HousekeepingSettings
from resources.postgres import PostgresResource

FINISHED = [DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED]
STAGING_SEEN_KEY = "lakehouse/housekeeping/staging_first_seen"  # in Dagster's key-value store
MAX_RUNTIME_SECONDS = 1800
_BATCH = 5000

# Run-less rows (an asset check evaluated by a sensor, a sensor's asset observation) are kept while they are the
# latest of their kind: the UI shows an asset's and a check's latest state from them.
_OLD_RUNLESS_EVENTS = text(
    "SELECT id FROM event_logs WHERE run_id = '' AND timestamp < :cutoff AND id NOT IN "
    "(SELECT max(id) FROM event_logs WHERE run_id = '' GROUP BY asset_key, dagster_event_type) LIMIT :n"
)
_OLD_CHECK_RESULTS = text(
    "SELECT id FROM asset_check_executions WHERE create_timestamp < :cutoff AND id NOT IN "
    "(SELECT max(id) FROM asset_check_executions GROUP BY asset_key, check_name) LIMIT :n"
)
_DELETE_EVENT_TAGS = text("DELETE FROM asset_event_tags WHERE event_id IN :ids").bindparams(
    bindparam("ids", expanding=True)
)
_DELETE_EVENTS = text("DELETE FROM event_logs WHERE id IN :ids").bindparams(bindparam("ids", expanding=True))
_DELETE_CHECK_RESULTS = text("DELETE FROM asset_check_executions WHERE id IN :ids").bindparams(
    bindparam("ids", expanding=True)
)


def delete_old_runs(instance: DagsterInstance, cutoff: datetime, limit: int) -> int:
    """Delete finished runs created before `cutoff`, oldest first, with their event logs; how many."""
    deleted = 0
    while deleted < limit:
        records = instance.get_run_records(
            RunsFilter(statuses=FINISHED, created_before=cutoff), limit=min(500, limit - deleted), ascending=True
        )
        if not records:
            break
        for record in records:
            instance.delete_run(record.dagster_run.run_id)
        deleted += len(records)
    return deleted


def delete_old_rows(instance: DagsterInstance, cutoff: datetime) -> dict[str, int]:
    """Delete run-less asset events and asset-check results older than `cutoff` but the latest of each kind
    (Dagster's API has no call for these; the statements use only its documented storage tables)."""
    naive_utc = cutoff.astimezone(timezone.utc).replace(tzinfo=None)  # how Dagster stores these timestamps
    counts = {"runless_events": 0, "check_results": 0}
    with instance.event_log_storage.index_connection() as conn:  # type: ignore[attr-defined]
        while ids := [r[0] for r in conn.execute(_OLD_RUNLESS_EVENTS, {"cutoff": naive_utc, "n": _BATCH})]:
            conn.execute(_DELETE_EVENT_TAGS, {"ids": ids})
            conn.execute(_DELETE_EVENTS, {"ids": ids})
            counts["runless_events"] += len(ids)
        while ids := [r[0] for r in conn.execute(_OLD_CHECK_RESULTS, {"cutoff": naive_utc, "n": _BATCH})]:
            conn.execute(_DELETE_CHECK_RESULTS, {"ids": ids})
            counts["check_results"] += len(ids)
    return counts


def drop_leftover_staging_tables(
    instance: DagsterInstance, postgres: PostgresResource, max_age: timedelta
) -> list[str]:
    """Drop lakehouse_state.staging_* tables seen for at least `max_age`; the names dropped.

    Postgres keeps no creation time, so each pass remembers when it first saw each table (by name and oid: a table
    dropped and re-created by a later attempt starts afresh) in Dagster's key-value store. A table still in use
    by a live models run is locked by it: the DROP gives up after a few seconds and the next pass tries again."""
    seen: dict[str, float] = json.loads(
        instance.run_storage.get_cursor_values({STAGING_SEEN_KEY}).get(STAGING_SEEN_KEY) or "{}"
    )
    now, dropped = time.time(), []
    with postgres.connect(autocommit=True) as conn:
        conn.execute("SET lock_timeout = '5s'")
        tables = {
            f"{name}:{oid}": name
            for name, oid in conn.execute(
                "SELECT c.relname, c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'lakehouse_state' AND c.relkind = 'r' AND c.relname LIKE 'staging\\_%'"
            )
        }
        seen = {key: seen.get(key, now) for key in tables}
        for key, name in tables.items():
            if now - seen[key] >= max_age.total_seconds():
                conn.execute(sql.SQL("DROP TABLE IF EXISTS lakehouse_state.{}").format(sql.Identifier(name)))
                dropped.append(name)
                del seen[key]
    instance.run_storage.set_cursor_values({STAGING_SEEN_KEY: json.dumps(seen)})
    return dropped


def rotate_logs(folder: Path, max_bytes: int, keep: int) -> list[str]:
    """Copy-truncate every *.log in `folder` larger than `max_bytes`: name.log -> name.log.1 (older copies shift
    up, the one beyond `keep` is deleted) and name.log is emptied in place, so the processes writing it (they
    append) go on without a restart; the names rotated."""
    rotated = []
    for log in sorted(folder.glob("*.log")) if folder.is_dir() else []:
        if not log.is_file() or log.stat().st_size <= max_bytes:
            continue
        copies = [log.with_name(f"{log.name}.{i}") for i in range(1, keep + 1)]
        copies[-1].unlink(missing_ok=True)
        for older, newer in zip(reversed(copies[1:]), reversed(copies[:-1]), strict=False):
            if newer.exists():
                newer.rename(older)
        with log.open("r+b") as handle:
            with copies[0].open("wb") as copy:
                shutil.copyfileobj(handle, copy)
            handle.truncate(0)
        rotated.append(log.name)
    return rotated


@op(
    description="Delete finished runs (with their event logs), asset-check results and run-less asset events "
    "older than the configured age"
)
def prune_dagster_history(context: OpExecutionContext, housekeeping_settings: HousekeepingSettings) -> dict:
    cutoff = datetime.now(timezone.utc) - timedelta(days=housekeeping_settings.history_days)
    counts = {
        "runs": delete_old_runs(context.instance, cutoff, housekeeping_settings.max_runs_per_pass),
        **delete_old_rows(context.instance, cutoff),
    }
    context.log.info(
        f"deleted from before {cutoff:%Y-%m-%d %H:%M} UTC: "
        + ", ".join(f"{n} {what.replace('_', ' ')}" for what, n in counts.items())
    )
    context.add_output_metadata({"cutoff": cutoff.isoformat(), **counts})
    return counts


@op(description="Drop lakehouse_state.staging_* tables left by failed models runs")
def drop_staging_tables(
    context: OpExecutionContext, housekeeping_settings: HousekeepingSettings, postgres: PostgresResource
) -> list[str]:
    dropped = drop_leftover_staging_tables(
        context.instance, postgres, timedelta(minutes=housekeeping_settings.staging_max_age_minutes)
    )
    context.log.info(f"dropped {len(dropped)} leftover staging tables" + (f": {', '.join(dropped)}" if dropped else ""))
    context.add_output_metadata({"dropped": len(dropped), "tables": ", ".join(dropped)})
    return dropped


@op(description="Rotate the stack's log files (copy-truncate)")
def rotate_stack_logs(context: OpExecutionContext, housekeeping_settings: HousekeepingSettings) -> list[str]:
    folder = Path(housekeeping_settings.log_dir).resolve()
    rotated = rotate_logs(folder, housekeeping_settings.log_max_bytes, housekeeping_settings.log_keep)
    context.log.info(f"{folder}: rotated {len(rotated)} log files" + (f": {', '.join(rotated)}" if rotated else ""))
    context.add_output_metadata({"folder": str(folder), "rotated": len(rotated), "files": ", ".join(rotated)})
    return rotated


@job(
    executor_def=in_process_executor,
    tags={"dagster/max_runtime": str(MAX_RUNTIME_SECONDS)},
    description="Prune Dagster's history, drop leftover staging tables, rotate the stack's logs (docs/operations.md)",
)
def housekeeping():
    prune_dagster_history()
    drop_staging_tables()
    rotate_stack_logs()


housekeeping_schedule = ScheduleDefinition(
    job=housekeeping,
    cron_schedule="0 * * * *",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Hourly housekeeping (docs/operations.md)",
)
