"""Change data capture on real Postgres, Kafka and Kafka Connect: the application's row changes arrive on the change
topic through Debezium, across a killed worker, a schema change and a wrong password, registered, watched and
removed through the platform's Dagster asset, jobs and sensor; bronze lands the topic (through the platform's sensor
and job) and the models keep the change log and the mirror app.orders_cdc equal to the source."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict

import pytest
from confluent_kafka import Producer
from dagster import DagsterInstance, Definitions, evaluate_automation_conditions
from psycopg import sql

from assets.cdc.assets import shop_orders_connector
from assets.cdc.connector import CdcConnectorConfig, connector_config
from assets.cdc.control import wait_for
from infra.stack import proc, stack
from infra.stack.config import REPO_ROOT
from resources.cdc_source import CdcSourceResource
from resources.kafka_connect import KafkaConnectResource
from tests.support.cdc import ASSET_OP, CdcHarness, CdcLake, Change

pytestmark = pytest.mark.connect
FIELDS = ("order_id", "customer_id", "status", "amount", "currency")


@pytest.fixture(scope="module")
def connect_up(core_stack):
    rows = {r.service: r for r in stack.status(core_stack)}
    if "connect" not in rows or not rows["connect"].healthy:
        pytest.fail("connect is not healthy — run `lakehouse up --with connect` (see `lakehouse logs connect`)")
    return core_stack


@pytest.fixture
def cdc(connect_up):
    harness = CdcHarness(connect_up)
    try:
        yield harness
    finally:
        harness.cleanup()


def _insert(cdc: CdcHarness, order_id: str, **extra: object) -> None:
    columns = {
        "order_id": order_id,
        "customer_id": "c-00001",
        "status": "created",
        "amount": 12.5,
        "currency": "VND",
        **extra,
    }
    with cdc.admin() as conn:
        conn.execute(
            f"INSERT INTO app.orders ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})",
            list(columns.values()),
        )


def _set_password(cdc: CdcHarness, password: str) -> None:
    with cdc.pg.superuser() as conn:
        conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(cdc.role), sql.Literal(password)))


def _first_red_tick(cdc: CdcHarness, timeout: float) -> str:
    """The message of the first sensor tick that fails, ticking every 5 s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            cdc.tick()
        except Exception as exc:  # the sensor turns red by raising
            return str(exc)
        time.sleep(5)
    raise AssertionError(f"the sensor stayed green for {timeout:.0f}s")


def _observed(cdc: CdcHarness) -> dict:
    """The metadata the sensor observes for this test's connector on one tick."""
    [event] = [e for e in cdc.tick().asset_events if e.metadata["connector"].value == cdc.connector]
    return event.metadata


def _events(report) -> int:
    """Change records a report's changes produce: one per insert and update, a delete and its tombstone per delete."""
    return report.counts["inserts"] + report.counts["updates"] + 2 * report.counts["deletes"]


def _mirror(changes: list[Change]) -> dict[str, dict]:
    """The table the change records describe, applied in LSN order: records re-sent after a crash (at least once)
    change nothing."""
    rows: dict[str, dict] = {}
    for change in sorted((c for c in changes if c.value), key=lambda c: c.lsn):
        if change.op in ("r", "c", "u"):
            rows[change.order_id] = {k: change.value["after"][k] for k in FIELDS}
        elif change.op == "d":
            rows.pop(change.order_id, None)
    return rows


def test_the_connector_config_is_the_documented_one():
    source = CdcSourceResource(host="db", port=5432, dbname="shop", user="cdc_user", password="never-sent")
    config = connector_config(CdcConnectorConfig(), source)
    assert CdcConnectorConfig().topic() == "dbserver1.app.orders"
    assert (config["topic.prefix"], config["table.include.list"]) == ("dbserver1", "app.orders")
    assert config["database.password"] == "${env:CDC_PG_PASSWORD}"
    assert "never-sent" not in str(config)
    assert (config["publication.name"], config["slot.name"]) == ("cdc_shop_orders", "cdc_shop_orders")
    assert config["publication.autocreate.mode"] == "disabled" and config["snapshot.mode"] == "initial"
    assert config["decimal.handling.mode"] == "string" and config["value.converter.schemas.enable"] == "false"
    with pytest.raises(ValueError, match="config-provider reference"):
        connector_config(CdcConnectorConfig(password_reference="cdc_pass"), source)


def test_the_automation_sensor_registers_a_connector_never_registered_once():
    source = CdcSourceResource(host="db", port=5432, dbname="shop", user="cdc_user", password="unused")
    defs = Definitions(
        assets=[shop_orders_connector],
        resources={"cdc_source": source, "kafka_connect": KafkaConnectResource(url="http://unused")},
    )
    first = evaluate_automation_conditions(defs=defs, instance=DagsterInstance.ephemeral())
    assert first.total_requested == 1  # missing from the start: requested on the first tick (on_missing() never did)


def test_the_server_decodes_logically_and_the_cdc_role_reads_only_the_application_database(cdc):
    with cdc.pg.superuser() as conn:
        assert conn.execute("SHOW wal_level").fetchone() == ("logical",)
        attributes = conn.execute(
            "SELECT rolreplication, rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = %s", (cdc.role,)
        ).fetchone()
    assert attributes == (True, False, False, False)
    with cdc.admin() as conn:
        assert conn.execute("SELECT relreplident FROM pg_class WHERE oid = 'app.orders'::regclass").fetchone() == ("f",)
        assert conn.execute(
            "SELECT tablename FROM pg_publication_tables WHERE pubname = 'cdc_shop_orders'"
        ).fetchall() == [("orders",)]
        may_insert = conn.execute("SELECT has_table_privilege(%s, 'app.orders', 'INSERT')", (cdc.role,)).fetchone()
    assert may_insert == (False,)
    lake_db = cdc.pg.login()["dbname"]
    with pytest.raises(Exception, match="permission denied for database"):
        CdcSourceResource(**{**cdc.source.model_dump(), "dbname": lake_db}).connect().close()


def test_lakehouse_app_prints_what_it_committed(cdc):
    env = {**os.environ, "SHOP_DATABASE": cdc.dbname, "PG_URL": cdc.cfg.pg_url}
    done = subprocess.run(
        [sys.executable, "-m", "infra.cli", "app", "--count", "80", "--rate", "0", "--seed", "9"],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["inserts"] + summary["updates"] + summary["deletes"] == summary["changes"] == 80
    assert summary["transactions"] >= summary["multi_change_transactions"] >= 1
    assert len(cdc.rows()) == summary["inserts"] - summary["deletes"]


def test_rows_that_existed_before_the_connector_arrive_through_the_snapshot(cdc):
    cdc.write(60, seed=1)
    before = cdc.rows()
    result = cdc.register()
    meta = result.asset_materializations_for_node(ASSET_OP)[0].metadata
    assert meta["created"].value is True
    assert (meta["connector_state"].value, meta["task_states"].value) == ("RUNNING", "RUNNING")
    assert meta["topic"].value == cdc.topic
    snapshot = cdc.changes(len(before))
    assert {change.op for change in snapshot} == {"r"}
    assert _mirror(snapshot) == before

    again = cdc.register().asset_materializations_for_node(ASSET_OP)[0].metadata
    assert again["created"].value is False  # the same connector, updated in place: no second snapshot
    _insert(cdc, "o-after-snapshot")
    changes = cdc.changes(len(before) + 1)
    assert [change.op for change in changes[len(before) :]] == ["c"]
    assert len(changes) == len(before) + 1


def test_inserts_updates_and_deletes_arrive_as_c_u_d_with_tombstones_in_order_per_key(cdc):
    cdc.register()
    report = cdc.write(400, seed=3, delete_fraction=0.1)
    inserts, updates, deletes = (report.counts[k] for k in ("inserts", "updates", "deletes"))
    assert inserts and updates and deletes and report.counts["multi_change_transactions"]
    changes = cdc.changes(_events(report))
    assert len(changes) == _events(report)
    assert Counter(change.op for change in changes) == {"c": inserts, "u": updates, "d": deletes, "tombstone": deletes}

    by_key: dict[str, list[Change]] = defaultdict(list)
    for change in changes:
        by_key[change.order_id].append(change)
    for order_id, events in by_key.items():
        assert re.fullmatch(r"cu*(dt)?", "".join(e.op[0] for e in events)), (order_id, [e.op for e in events])
        lsns = [e.lsn for e in events if e.value]
        assert lsns == sorted(set(lsns)), f"{order_id}: LSNs out of order {lsns}"
        for previous, event in zip(events, events[1:], strict=False):
            if event.op in ("u", "d"):  # REPLICA IDENTITY FULL: the before-image is the previous after-image
                assert event.value["before"] == previous.value["after"]
            if event.op == "d":
                assert event.value["after"] is None
    assert _mirror(changes) == cdc.rows()
    per_transaction = Counter(change.value["source"]["txId"] for change in changes if change.value)
    assert sum(n > 1 for n in per_transaction.values()) == report.counts["multi_change_transactions"]


def _produce(cdc: CdcHarness, records: list[tuple[bytes, bytes]]) -> None:
    """Write (key, value) records to the test's change topic, as Connect would."""
    producer = Producer({"bootstrap.servers": cdc.cfg.kafka_bootstrap, "log_level": 0})
    for key, value in records:
        producer.produce(cdc.topic, key=key, value=value)
    assert producer.flush(30) == 0


def test_the_mirror_equals_the_source_applies_each_change_once_and_never_regresses(cdc):
    cdc.write(60, seed=11)  # rows from before the connector: the snapshot (op r)
    cdc.register()
    lake = CdcLake(cdc)
    start = lake.read_position()
    cdc.changes(len(cdc.rows()))
    lake.wait_equal()  # the snapshot alone: the change log's first object
    report = cdc.write(300, seed=12, delete_fraction=0.1)
    assert all(report.counts[k] for k in ("inserts", "updates", "deletes"))
    figures = [run.figures for run in lake.wait_equal() if run.figures.get("changes_applied")]
    assert figures and all(0 < f["replication_lag_p50_s"] <= f["replication_lag_p95_s"] < 120 for f in figures)

    changes = cdc.read_topic()
    ops = defaultdict(list)
    for change in changes:
        ops[change.order_id].append(change.op)
    snapshot = {key for key, seen in ops.items() if seen[0] == "r"}
    assert any("u" in ops[k] for k in snapshot) and any("d" in ops[k] for k in snapshot)
    tombstones = [line for lines in lake.bronze.objects("stream").values() for line in lines if line.get("tombstone")]
    assert len(tombstones) == report.counts["deletes"]  # landed in bronze as expected records
    assert lake.bronze.objects("quarantine") == {}
    [latest] = [e for e in lake.bronze.instance.get_latest_materialization_events([lake.bronze.asset.key]).values()]
    assert latest.asset_materialization.metadata["tombstones"].value >= 1

    # Re-applying: the snapshot again (older than what followed) and then every batch; nothing is rewritten.
    keys = set(ops)
    state = lake.mirror_state(keys)
    lake.rewind(start)
    oldest = lake.apply_one_batch()
    assert oldest.figures["changes_in_batch"] >= len(snapshot) > 0
    assert lake.mirror_state(keys) == state  # no row regressed to its snapshot, none deleted came back
    lake.catch_up()
    assert lake.mirror_state(keys) == state and not lake.difference()

    # Connect sending an older change again (at least once), and a malformed envelope.
    updated = next(c for c in changes if c.op == "c" and "u" in ops[c.order_id] and "d" not in ops[c.order_id])
    deleted = next(c for c in changes if c.op in ("c", "r") and "d" in ops[c.order_id])
    broken = {**updated.value, "source": {**updated.value["source"], "lsn": "0/22E7A10"}}
    _produce(
        cdc,
        [(json.dumps(c.key).encode(), json.dumps(c.value).encode()) for c in (updated, deleted)]
        + [(b'{"order_id":"o-broken"}', json.dumps(broken).encode())],
    )
    lake.wait_equal()
    assert lake.mirror_state(keys) == state
    log = [change_id for change_id, _ in lake.change_log(keys)]
    assert len(log) == len(set(log)) == len({(c.order_id, c.lsn, c.op) for c in changes if c.value})
    [quarantined] = [line for lines in lake.bronze.objects("quarantine").values() for line in lines]
    assert quarantined["reason"] == (
        "schema debezium: field 'source.lsn' must be an integer (the change's WAL position), got '0/22E7A10'"
    )


def test_a_worker_killed_and_restarted_resumes_from_its_stored_offsets(cdc, cfg):
    cdc.register()
    first = cdc.write(150, seed=4)
    cdc.changes(_events(first))
    assert any(e.metadata["connector"].value == cdc.connector for e in cdc.tick().asset_events)

    pid = proc.running_pid(cfg, "connect")
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while proc.running_pid(cfg, "connect") and time.monotonic() < deadline:
        time.sleep(0.2)
    with pytest.raises(Exception, match=f"unreachable.*{cdc.connector}.*were running there"):
        cdc.tick()
    second = cdc.write(100, seed=5)  # committed while no worker reads the slot
    down = f"o-written-while-down-{cdc.ident}"  # the lake's mirror is shared: an id of this run only
    _insert(cdc, down)

    stack.start_service(cfg, stack.service(cfg, "connect"))
    wait_for(cdc.connect, cdc.connector, "RUNNING", timeout=120, grace=30)
    expected = _events(first) + _events(second) + 1
    changes = cdc.changes_by_key_and_lsn(expected - first.counts["deletes"] - second.counts["deletes"], timeout=180)
    records = [c for c in changes if c.value]
    print(
        f"\nafter kill -9: {len(records) - len({(c.order_id, c.lsn, c.op) for c in records})} change records "
        "re-sent (at least once), none missing"
    )
    assert down in {c.order_id for c in changes}
    assert not any(c.op == "r" for c in changes), "the restarted worker took a new snapshot instead of resuming"
    assert _mirror(changes) == cdc.rows()
    assert any(e.metadata["connector"].value == cdc.connector for e in cdc.tick().asset_events)
    lake = CdcLake(cdc)  # the lake after the crash: the mirror equals the source, the change log holds no double
    lake.wait_equal()
    log = [change_id for change_id, _ in lake.change_log({c.order_id for c in changes})]
    assert len(log) == len(set(log)) == len({(c.order_id, c.lsn, c.op) for c in records})


def test_a_column_added_to_the_source_table_appears_in_later_events(cdc):
    cdc.register()
    before, after = f"o-before-alter-{cdc.ident}", f"o-after-alter-{cdc.ident}"  # ids of this run only
    _insert(cdc, before)
    with cdc.admin() as conn:
        conn.execute("ALTER TABLE app.orders ADD COLUMN note text")
    _insert(cdc, after, note="gift wrap")
    with cdc.admin() as conn:
        conn.execute("UPDATE app.orders SET note = 'leave at the door' WHERE order_id = %s", [before])
    first, second, third = cdc.changes(3)
    assert "note" not in first.value["after"]
    assert (second.order_id, second.value["after"]["note"]) == (after, "gift wrap")
    assert third.op == "u" and third.value["before"]["note"] is None
    assert third.value["after"]["note"] == "leave at the door"
    assert cdc.connect.status(cdc.connector)["tasks"][0]["state"] == "RUNNING"
    lake = CdcLake(cdc)  # kept in bronze and in the change log; the mirror still equals the source
    lake.wait_equal()
    [landed] = [
        line
        for lines in lake.bronze.objects("stream").values()
        for line in lines
        if line.get("op") == "c" and line["after"]["order_id"] == after
    ]
    assert landed["after"]["note"] == "gift wrap"
    log = dict(lake.change_log({before, after}))
    notes = {change_id.split(":")[0]: json.loads(after).get("note") for change_id, after in log.items()}
    assert len(log) == 3 and notes[after] == "gift wrap"
    assert "leave at the door" in {json.loads(after).get("note") for after in log.values()}


def test_a_wrong_password_turns_the_sensor_red_and_fixing_it_and_rerunning_the_asset_recovers(cdc):
    refused = cdc.register(raise_on_error=False, password_reference="${env:CDC_PG_PASSWORD_OLD}")
    assert not refused.success  # Connect validates the config: the login fails, nothing is registered
    message = str(refused.all_events)
    assert "password authentication failed" in message and cdc.password not in message
    assert cdc.connect.status(cdc.connector) is None

    cdc.register()
    _insert(cdc, "o-before-rotation")
    cdc.changes(1)
    assert _observed(cdc)["slot_active"].value is True
    rotated = f"rotated-{uuid.uuid4().hex}"
    _set_password(cdc, rotated)  # the database's password changes under the running connector
    cdc.control("cdc_restart_connector")  # Connect restarts it; Debezium's login fails and it retries forever
    red = _first_red_tick(cdc, timeout=150)
    assert re.search(
        rf"(?s)connector {cdc.connector} is RUNNING but .*replication slot {cdc.slot}.*"
        rf"Connect's validation of its config says:\ndatabase.hostname: .*password authentication "
        rf'failed for user "{cdc.role}"',
        red,
    ), red
    assert rotated not in red and cdc.password not in red

    _set_password(cdc, cdc.password)  # fixed: the role's password is the one the worker's secret holds again
    cdc.register()
    _insert(cdc, "o-after-the-fix")
    assert "o-after-the-fix" in {c.order_id for c in cdc.changes(2, timeout=120)}
    assert _observed(cdc)["slot_active"].value is True  # the sensor is green again


def test_a_failed_task_turns_the_sensor_red_with_connects_trace_and_removal_starts_afresh(cdc):
    cdc.register(max_retries=1)
    _insert(cdc, "o-before-the-drop")
    cdc.changes(1)
    with cdc.admin() as conn:  # a database administrator's mistake
        conn.execute("DROP PUBLICATION cdc_shop_orders")
    _insert(cdc, "o-after-the-drop")
    red = _first_red_tick(cdc, timeout=120)
    assert re.search(
        rf"(?s)connector {cdc.connector}: task 0 FAILED on .*\nCaused by: .*Publication autocreation "
        r"is disabled, please create one",
        red,
    ), red
    assert "\tat " not in red  # the trace without its stack frames

    # The slot cannot decode past the drop even once the publication is back (Postgres reads publications as
    # of each change): remove the connector, with its slot and offsets, and register it again to snapshot afresh.
    with cdc.admin() as conn:
        conn.execute("CREATE PUBLICATION cdc_shop_orders FOR TABLE app.orders")
    cdc.control("cdc_remove_connector")
    cdc.register()
    snapshot = [c for c in cdc.changes(3) if c.op == "r"]
    assert {c.order_id for c in snapshot} == {"o-before-the-drop", "o-after-the-drop"}
    assert _observed(cdc)["task_states"].value == "RUNNING"


def test_pause_resume_the_slot_check_and_removal_without_an_orphaned_slot(cdc):
    result = cdc.register()
    [check] = result.get_asset_check_evaluations()
    assert check.passed and check.metadata["slot"].value == cdc.slot

    cdc.control("cdc_pause_connector")
    paused = [e for e in cdc.tick().asset_events if e.metadata["connector"].value == cdc.connector]
    assert paused[0].metadata["connector_state"].value == "PAUSED"  # paused on purpose: not a problem
    report = cdc.write(200, seed=6)
    held = cdc.register(check={"max_retained_bytes": 16384})  # re-running leaves a paused connector paused
    [check] = held.get_asset_check_evaluations()
    assert not check.passed and check.metadata["slot_retained_wal_bytes"].value > 16384

    cdc.control("cdc_resume_connector")
    cdc.changes(_events(report))

    cdc.control("cdc_remove_connector")
    assert cdc.connect.status(cdc.connector) is None
    with cdc.pg.superuser() as conn:
        assert conn.execute("SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", (cdc.slot,)).fetchone() is None
    rows = cdc.rows()
    cdc.register()  # its offsets went with it: registered again, it starts with a snapshot
    snapshot = [c for c in cdc.changes(_events(report) + len(rows)) if c.op == "r"]
    assert _mirror(snapshot) == rows
