"""The Flink cluster of the stack: a TaskManager with free slots, a SQL Gateway, a job writing to the object store."""

from __future__ import annotations

import stat
import uuid

import pytest

from infra.stack.services.flink import Flink
from resources.flink import FlinkError

pytestmark = pytest.mark.flink


def test_cluster_has_a_taskmanager_with_free_slots_and_a_gateway(flink):
    overview = flink.overview()
    assert overview["taskmanagers"] >= 1
    assert overview["slots-available"] >= 1
    assert flink.gateway_info()["productName"] == "Apache Flink"


def test_datagen_job_writes_files_to_the_object_store(flink, resources):
    store = resources["object_store"]
    prefix = f"tests/flink-datagen/{uuid.uuid4().hex}"
    session = flink.open_session({"execution.checkpointing.interval": "2s", "pipeline.name": "test-datagen"})
    try:
        flink.execute(
            session,
            """
            CREATE TABLE gen (id BIGINT, name STRING) WITH (
              'connector' = 'datagen', 'number-of-rows' = '200', 'rows-per-second' = '200')""",
        )
        flink.execute(
            session,
            f"""
            CREATE TABLE sink (id BIGINT, name STRING) WITH (
              'connector' = 'filesystem', 'path' = '{store.uri(prefix)}', 'format' = 'json')""",
        )
        job_id = flink.execute(session, "INSERT INTO sink SELECT id, name FROM gen").job_id
        assert job_id, "the INSERT did not report a Flink job id"
        flink.wait_for_job(job_id, ("FINISHED",), timeout=180)
    finally:
        flink.close_session(session)
    objects = store.client().list_objects_v2(Bucket=store.bucket, Prefix=prefix).get("Contents", [])
    committed = [o for o in objects if not o["Key"].split("/")[-1].startswith(".")]
    assert committed, f"no committed files under s3://{store.bucket}/{prefix}"
    lines = sum(
        store.client().get_object(Bucket=store.bucket, Key=o["Key"])["Body"].read().count(b"\n") for o in committed
    )
    assert lines == 200


def test_rejected_sql_reports_flinks_message_and_the_statement(flink):
    session = flink.open_session()
    try:
        with pytest.raises(FlinkError) as err:
            flink.execute(session, "SELECT * FROM table_that_does_not_exist")
    finally:
        flink.close_session(session)
    assert "table_that_does_not_exist" in str(err.value)


def test_flinks_messages_echo_a_rejected_statement_with_its_password_masked(flink):
    secret = f"pw-{uuid.uuid4().hex}"
    session = flink.open_session()
    try:
        flink.execute(
            session,
            f"""CREATE TEMPORARY TABLE pg (id BIGINT) WITH ('connector' = 'jdbc',
            'url' = 'jdbc:postgresql://127.0.0.1:1/db?user=u&password={secret}', 'table-name' = 't',
            'username' = 'u', 'password' = '{secret}', 'no.such.option' = '1')""",
        )
        flink.execute(session, "CREATE TEMPORARY TABLE gen (id BIGINT) WITH ('connector' = 'datagen')")
        with pytest.raises(FlinkError) as err:  # Flink repeats the table's options when it rejects it
            flink.execute(session, "INSERT INTO pg SELECT id FROM gen")
        with pytest.raises(FlinkError) as echoed:  # the statement itself comes back in the error
            flink.execute(session, f"CREATE TEMPORARY TABLE bad (id BIGINT) WITH ('password' = '{secret}') oops")
    finally:
        flink.close_session(session)
    for message in (str(err.value), str(echoed.value)):
        assert secret not in message and "***" in message, message


def test_flinks_configuration_and_pgpass_are_readable_by_the_stack_user_only(cfg, flink):
    conf = Flink(cfg).conf_dir()
    for folder in (conf, conf.parent, cfg.logs / "flink"):  # conf/, data/flink (job graphs, blobs), Flink's logs
        mode = stat.S_IMODE(folder.stat().st_mode)
        assert mode == 0o700, f"{folder} is {oct(mode)}"
    for name in ("config.yaml", "pgpass"):
        mode = stat.S_IMODE((conf / name).stat().st_mode)
        assert mode == 0o600, f"{conf / name} is {oct(mode)}"
    assert "s3.secret-key:" in (conf / "config.yaml").read_text()
    assert (conf / "pgpass").read_text().count(":") >= 4


def test_a_connector_flink_lacks_is_named_with_the_jar_to_add(flink):
    session = flink.open_session()
    try:
        flink.execute(session, "CREATE TEMPORARY TABLE gen (id BIGINT) WITH ('connector' = 'datagen')")
        flink.execute(session, "CREATE TEMPORARY TABLE es (id BIGINT) WITH ('connector' = 'elasticsearch-7')")
        with pytest.raises(FlinkError) as err:
            flink.execute(session, "INSERT INTO es SELECT id FROM gen")
    finally:
        flink.close_session(session)
    message = str(err.value)
    assert "Flink has no 'elasticsearch-7' on its classpath" in message
    assert "lakehouse up --with flink" in message and "INSERT INTO es" in message
