"""The stack's Dagster instance keeps its state in Postgres, so cursors and runs survive restarts."""

from __future__ import annotations

import shutil

import psycopg
from dagster import DagsterInstance, asset, materialize

from infra.stack.config import REPO_ROOT


def test_instance_config_stores_runs_and_cursors_in_the_dagster_database(tmp_path, monkeypatch, resources):
    pg_url = resources["postgres"].url
    dagster_url = pg_url.rsplit("/", 1)[0] + "/dagster"
    monkeypatch.setenv("DAGSTER_PG_URL", dagster_url)
    shutil.copy(REPO_ROOT / "infra" / "dagster" / "dagster.yaml", tmp_path / "dagster.yaml")

    instance = DagsterInstance.from_config(str(tmp_path))
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
    assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
    instance.run_storage.set_cursor_values({"test-cursor": "orders|p0:0-10"})

    @asset
    def instance_probe() -> int:
        return 1

    run = materialize([instance_probe], instance=instance)  # run and event-log writes (LISTEN/NOTIFY) work
    assert run.success
    instance.dispose()

    reopened = DagsterInstance.from_config(str(tmp_path))  # a restarted daemon sees the same state
    assert reopened.run_storage.get_cursor_values({"test-cursor"}) == {"test-cursor": "orders|p0:0-10"}
    assert reopened.get_run_by_id(run.run_id) is not None
    reopened.dispose()
    with psycopg.connect(dagster_url) as conn:
        assert conn.execute("SELECT count(*) FROM kvs WHERE key = 'test-cursor'").fetchone()[0] == 1
