"""The housekeeping job against real storage: a Dagster instance in a throw-away Postgres database with backdated
runs, check results and run-less events; staging tables in that database; log files being written."""

from __future__ import annotations

import time

import psycopg
import pytest
from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetKey,
    AssetObservation,
    DagsterRunStatus,
    Output,
    asset,
    job,
    materialize,
    op,
)

from orchestration.housekeeping import housekeeping, housekeeping_schedule
from resources.operations import HousekeepingSettings
from resources.postgres import PostgresResource
from tests.support.dagster_dev import DagsterDev, throwaway_database


@pytest.fixture
def dagster_db(core_stack, tmp_path):
    """(instance, database URL): a Dagster instance on the platform's instance config, in a new database."""
    with throwaway_database(core_stack) as url:
        with DagsterDev(tmp_path / "home", url, "tests.support.probe_location").instance() as instance:
            yield instance, url


def _run_op(instance, op_name: str, url: str, **settings):
    result = housekeeping.execute_in_process(
        instance=instance,
        op_selection=[op_name],
        resources={"housekeeping_settings": HousekeepingSettings(**settings), "postgres": PostgresResource(url=url)},
    )
    assert result.success
    return result.output_for_node(op_name)


@asset(check_specs=[AssetCheckSpec("positive", asset="probe")])
def probe():
    yield Output(1)
    yield AssetCheckResult(check_name="positive", passed=True)


@op
def noop() -> None:
    pass


@job
def idle():
    noop()


def test_old_finished_runs_their_events_and_check_results_are_deleted(dagster_db):
    instance, url = dagster_db
    runs = [materialize([probe], instance=instance).run_id for _ in range(5)]
    old, recent = runs[:3], runs[3:]
    stuck = instance.create_run_for_job(idle, status=DagsterRunStatus.STARTED)
    for i in range(3):
        instance.report_runless_asset_event(AssetObservation(AssetKey("observed"), metadata={"i": i}))
    instance.report_runless_asset_event(AssetObservation(AssetKey("quiet"), metadata={"i": 0}))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "UPDATE runs SET create_timestamp = create_timestamp - interval '10 days' WHERE run_id = ANY(%s)",
            [old + [stuck.run_id]],
        )
        conn.execute(
            "UPDATE asset_check_executions SET create_timestamp = create_timestamp - interval '10 days' "
            "WHERE run_id = ANY(%s)",
            [old],
        )
        # the two older observations of `observed` and the only one of `quiet` are old
        conn.execute(
            "UPDATE event_logs SET timestamp = timestamp - interval '10 days' WHERE run_id = '' AND id IN "
            "(SELECT id FROM event_logs WHERE run_id = '' AND asset_key LIKE '%%observed%%' "
            " ORDER BY id LIMIT 2) OR (run_id = '' AND asset_key LIKE '%%quiet%%')"
        )
        before = conn.execute("SELECT count(*) FROM event_logs WHERE run_id = ANY(%s)", [old]).fetchone()[0]

    counts = _run_op(instance, "prune_dagster_history", url, history_days=7)

    assert before > 0
    assert counts == {"runs": 3, "runless_events": 2, "check_results": 3}
    assert [r for r in old if instance.get_run_by_id(r)] == []
    assert all(instance.get_run_by_id(r) for r in recent)
    assert instance.get_run_by_id(stuck.run_id) is not None  # in progress: never deleted, however old
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM event_logs WHERE run_id = ANY(%s)", [old]).fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM asset_check_executions").fetchone()[0] == len(recent)
        observed = conn.execute("SELECT count(*) FROM event_logs WHERE run_id = '' AND asset_key LIKE '%observed%'")
        assert observed.fetchone()[0] == 1
        quiet = conn.execute("SELECT count(*) FROM event_logs WHERE run_id = '' AND asset_key LIKE '%quiet%'")
        assert quiet.fetchone()[0] == 1  # old, but still the latest observation of its asset
    assert instance.get_latest_materialization_event(AssetKey("probe")) is not None


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'lakehouse_state'")}


def test_staging_tables_are_dropped_once_seen_for_the_configured_age(dagster_db):
    instance, url = dagster_db
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS lakehouse_state")
        for table in ("staging_app_orders_aaaa", "kept_objects", "stagingish"):
            conn.execute(f"CREATE TABLE lakehouse_state.{table} (x int)")

    first = _run_op(instance, "drop_staging_tables", url, staging_max_age_minutes=3 / 60)
    time.sleep(4)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE lakehouse_state.staging_app_orders_bbbb (x int)")  # a newer failed attempt
    second = _run_op(instance, "drop_staging_tables", url, staging_max_age_minutes=3 / 60)

    assert first == []  # seen for the first time: no age known yet
    assert second == ["staging_app_orders_aaaa"]
    left = _tables(url)
    assert {"staging_app_orders_bbbb", "kept_objects", "stagingish"} <= left
    assert "staging_app_orders_aaaa" not in left


def test_large_logs_are_copied_and_truncated_while_their_writer_goes_on(dagster_db, tmp_path):
    instance, url = dagster_db
    logs = tmp_path / "logs"
    logs.mkdir()
    chunk = b"x" * 1023 + b"\n"
    writer = open(logs / "kafka.log", "ab")  # as the launcher opens a service's log: append mode, kept open
    writer.write(chunk * 3000)
    writer.flush()
    (logs / "s3.log").write_bytes(b"small\n")
    (logs / "notes.txt").write_bytes(chunk * 3000)
    settings = {"log_dir": str(logs), "log_max_bytes": 1024 * 1024, "log_keep": 2}

    assert _run_op(instance, "rotate_stack_logs", url, **settings) == ["kafka.log"]
    writer.write(b"after rotation\n")
    writer.flush()
    assert (logs / "kafka.log").read_bytes() == b"after rotation\n"  # no hole of zeros where the old data was
    assert (logs / "kafka.log.1").read_bytes() == chunk * 3000
    assert (logs / "s3.log").read_bytes() == b"small\n" and (logs / "notes.txt").stat().st_size == 3000 * 1024

    for generation in (b"second\n", b"third\n"):
        writer.write(generation * 200_000)
        writer.flush()
        assert _run_op(instance, "rotate_stack_logs", url, **settings) == ["kafka.log"]
    writer.close()
    assert sorted(p.name for p in logs.iterdir()) == ["kafka.log", "kafka.log.1", "kafka.log.2", "notes.txt", "s3.log"]
    assert (logs / "kafka.log.1").read_bytes().endswith(b"third\n")
    assert (logs / "kafka.log.2").read_bytes().startswith(b"after rotation\nsecond\n")


def test_housekeeping_is_scheduled_hourly_and_on_by_default():
    assert housekeeping_schedule.cron_schedule == "0 * * * *"
    assert housekeeping_schedule.default_status.value == "RUNNING"
    assert housekeeping.tags["dagster/max_runtime"] == "1800"
