"""Change data capture for tests and benchmarks: an application database, CDC role, slot, topic prefix and connector
of its own on the running stack, the platform's CDC jobs and sensor wired to them, and the change topic read back."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient
from dagster import DagsterInstance, Definitions, build_sensor_context
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from assets import lake_objects
from assets.bronze.topics import TopicSpec
from assets.cdc.assets import shop_orders_connector, slot_retained_wal
from assets.models.project import load_models
from assets.models.runner import ModelRunner
from infra.app import AppReport, AppSpec, prepare_database, run, shop_conninfo
from infra.stack import stack
from infra.stack.config import StackConfig
from orchestration.cdc import (
    cdc_connectors_sensor,
    cdc_pause_connector,
    cdc_register_connector,
    cdc_remove_connector,
    cdc_restart_connector,
    cdc_resume_connector,
)
from resources import duckdb as lake_duckdb
from resources.cdc_source import CdcSourceResource
from resources.kafka_connect import KafkaConnectResource
from resources.models import ModelSettings
from resources.settings import setting
from tests.support.bronze import BronzeHarness

ASSET_OP = "cdc__shop_orders_connector"
CHECK_OP = "cdc__shop_orders_connector_slot_retained_wal"


@dataclass(frozen=True)
class Change:
    """One record of the change topic: its offset, key, and the Debezium envelope (None for a tombstone)."""

    offset: int
    key: dict
    value: dict | None

    @property
    def op(self) -> str:
        """c, u, d, r, or 'tombstone'."""
        return self.value["op"] if self.value else "tombstone"

    @property
    def order_id(self) -> str:
        return self.key["order_id"]

    @property
    def lsn(self) -> int:
        return self.value["source"]["lsn"]


@dataclass
class CdcHarness:
    """One test's own CDC path: database shop_<id> with its CDC role, slot, topic <id>.app.orders, connector
    test-<id>, and the platform's CDC definitions on those."""

    cfg: StackConfig
    ident: str = field(default_factory=lambda: f"t{uuid.uuid4().hex[:10]}")
    instance: DagsterInstance = field(default_factory=DagsterInstance.ephemeral)

    def __post_init__(self) -> None:
        self.pg = stack.service(self.cfg, "postgres")
        server = conninfo_to_dict(self.cfg.pg_url)
        self.dbname, self.role, self.slot = f"shop_{self.ident}", f"cdc_{self.ident}", f"slot_{self.ident}"
        self.connector, self.topic = f"test-{self.ident}", f"{self.ident}.app.orders"
        self.password = setting("CDC_PG_PASSWORD")  # what ${env:CDC_PG_PASSWORD} gives the worker
        prepare_database(self.pg.superuser, self.dbname, self.pg.login()["user"], self.role, self.password)
        self.source = CdcSourceResource(
            host=str(server.get("host") or "127.0.0.1"),
            port=int(server.get("port") or 5432),
            dbname=self.dbname,
            user=self.role,
            password=self.password,
        )
        self.connect = KafkaConnectResource(url=setting("CONNECT_URL"))
        self.resources = {"kafka_connect": self.connect, "cdc_source": self.source}
        self.defs = Definitions(
            assets=[shop_orders_connector],
            asset_checks=[slot_retained_wal],
            jobs=[
                cdc_register_connector,
                cdc_restart_connector,
                cdc_pause_connector,
                cdc_resume_connector,
                cdc_remove_connector,
            ],
            sensors=[cdc_connectors_sensor],
            resources=self.resources,
        )
        self.cursor: str | None = None

    def connector_config(self, **overrides: object) -> dict:
        """The asset's config for this test's connector."""
        return {
            "connector_name": self.connector,
            "topic_prefix": self.ident,
            "slot": self.slot,
            "wait_seconds": 90.0,
            **overrides,
        }

    def register(self, raise_on_error: bool = True, check: dict | None = None, **overrides: object):
        """Materialize the connector asset (and its slot check) through the platform's register job."""
        ops = {
            ASSET_OP: {"config": self.connector_config(**overrides)},
            CHECK_OP: {"config": {"connector_name": self.connector, **(check or {})}},
        }
        return self.defs.resolve_job_def("cdc_register_connector").execute_in_process(
            run_config={"ops": ops}, instance=self.instance, raise_on_error=raise_on_error
        )

    def control(self, job: str, raise_on_error: bool = True):
        """Run cdc_restart/pause/resume/remove_connector on this test's connector."""
        job_def = self.defs.resolve_job_def(job)
        op_name = job_def.graph.node_defs[0].name
        return job_def.execute_in_process(
            run_config={"ops": {op_name: {"config": {"connector_name": self.connector, "wait_seconds": 90.0}}}},
            instance=self.instance,
            raise_on_error=raise_on_error,
        )

    def tick(self):
        """Evaluate the watching sensor once, carrying its cursor from tick to tick as the daemon does."""
        context = build_sensor_context(
            instance=self.instance,
            definitions=self.defs,
            resources=self.resources,
            sensor_name=cdc_connectors_sensor.name,
            cursor=self.cursor,
        )
        result = cdc_connectors_sensor.evaluate_tick(context)
        self.cursor = result.cursor
        return result

    def write(self, count: int, seed: int, **spec: object) -> AppReport:
        """Commit `count` row changes with the application, as fast as it goes."""
        return run(shop_conninfo(self.cfg.pg_url, self.dbname), AppSpec(rate=0, count=count, seed=seed, **spec))

    def rows(self) -> dict[str, dict]:
        """The source table now, by order id, values as Debezium renders them (amount a string)."""
        with self.pg.superuser(self.dbname) as conn:
            cur = conn.execute("SELECT order_id, customer_id, status, amount::text AS amount, currency FROM app.orders")
            names = [c.name for c in cur.description]
            return {row[0]: dict(zip(names, row, strict=False)) for row in cur.fetchall()}

    def admin(self):
        """A superuser connection to this test's database."""
        return self.pg.superuser(self.dbname)

    def changes(self, count: int, timeout: float = 90.0) -> list[Change]:
        """The whole change topic once it holds at least `count` records (fails with how many it holds if not)."""
        deadline = time.monotonic() + timeout
        while len(found := self.read_topic()) < count and time.monotonic() < deadline:
            time.sleep(1)
        assert len(found) >= count, f"{len(found)} of {count} change records arrived on {self.topic} in {timeout:.0f}s"
        return found

    def read_topic(self) -> list[Change]:
        """Every record of the change topic (its one partition) now, in offset order."""
        consumer = Consumer(
            {
                "bootstrap.servers": self.cfg.kafka_bootstrap,
                "group.id": f"test-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "log_level": 0,
            }
        )
        found: list[Change] = []
        try:
            if self.topic not in consumer.list_topics(timeout=10).topics:
                return found
            partition = TopicPartition(self.topic, 0, 0)
            _, high = consumer.get_watermark_offsets(partition, timeout=10)
            consumer.assign([partition])
            while len(found) < high:
                for msg in consumer.consume(1000, timeout=5.0):
                    if msg.error():
                        raise RuntimeError(f"reading {self.topic}: {msg.error()}")
                    value = json.loads(msg.value()) if msg.value() is not None else None
                    found.append(Change(msg.offset(), json.loads(msg.key()), value))
        finally:
            consumer.close()
        return found

    def changes_by_key_and_lsn(self, distinct: int, timeout: float = 120.0) -> list[Change]:
        """The change topic once it holds `distinct` different (key, LSN, op) changes (tombstones aside): after a
        crash a change may arrive twice, none may be missing."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.read_topic()
            seen = {(c.order_id, c.lsn, c.op) for c in found if c.value}
            if len(seen) >= distinct or time.monotonic() > deadline:
                assert len(seen) == distinct, f"{len(seen)} of {distinct} changes arrived on {self.topic}"
                return found
            time.sleep(2)

    def cleanup(self) -> None:
        """Remove the connector (if any), its slot, database, role and topics."""
        if self.connect.status(self.connector) is not None:
            self.connect.delete(self.connector)
        deadline = time.monotonic() + 60
        with self.pg.superuser() as conn:
            while (
                (
                    row := conn.execute(
                        "SELECT active FROM pg_replication_slots WHERE slot_name = %s", (self.slot,)
                    ).fetchone()
                )
                and row[0]
                and time.monotonic() < deadline
            ):
                time.sleep(0.5)
            if row:
                conn.execute("SELECT pg_drop_replication_slot(%s)", (self.slot,))
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.dbname)))
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(self.role)))
        admin = AdminClient({"bootstrap.servers": self.cfg.kafka_bootstrap, "log_level": 0})
        topics = [
            t for t in (self.topic, f"__debezium-heartbeat.{self.ident}") if t in admin.list_topics(timeout=10).topics
        ]
        for future in admin.delete_topics(topics).values() if topics else ():
            future.result(30)


MIRROR_COLUMNS = ("order_id", "customer_id", "status", "amount", "currency", "created_at", "updated_at")
CDC_MODELS = ("silver_orders_cdc", "app_orders_cdc")


class CdcLake:
    """The lake's half of one test's CDC path: bronze lands the test's change topic through the platform's sensor
    and job (schema debezium, as BRONZE_TOPICS declares dbserver1.app.orders), then the change-log and mirror
    models run on it. The one seam: the models' CDC source reads the test's topic instead of dbserver1.app.orders.
    The mirror is the lake's app.orders_cdc; order ids are new every run, so the test's rows are its own."""

    def __init__(self, cdc: CdcHarness) -> None:
        self.cdc = cdc
        self.bronze = BronzeHarness(TopicSpec(cdc.topic, "json", "debezium"), cdc.instance)
        self.models = load_models()
        store, postgres = (
            self.bronze.resources[n].process_config_and_initialize() for n in ("object_store", "postgres")
        )
        self.runner = ModelRunner(self.models, store, postgres)
        source = ("bronze", "dbserver1_app_orders")
        self.runner.sources[source] = {**self.runner.sources[source], "topic": cdc.topic}

    def catch_up(self) -> dict:
        """Land what the topic holds in bronze, then run the change log and the mirror; the mirror's run."""
        self.bronze.drain()
        return {name: self.runner.run(self.models[name]) for name in CDC_MODELS}

    def source_rows(self) -> set[tuple]:
        """The application's table now (every column, as the mirror types them)."""
        with self.cdc.admin() as conn:
            return set(conn.execute(f"SELECT {', '.join(MIRROR_COLUMNS)} FROM app.orders").fetchall())

    def mirror_rows(self, keys: set[str]) -> set[tuple]:
        """The mirror's rows of these order ids."""
        with self.runner.postgres.connect() as conn:
            return set(
                conn.execute(
                    f"SELECT {', '.join(MIRROR_COLUMNS)} FROM app.orders_cdc WHERE order_id = ANY(%s)", [list(keys)]
                ).fetchall()
            )

    def difference(self) -> set[tuple]:
        """A full outer join of source and mirror, on every column, over the ids the test's topic carried: the
        rows found on one side only (nothing, when the mirror equals the source)."""
        keys = {change.order_id for change in self.cdc.read_topic()}
        return self.source_rows() ^ self.mirror_rows(keys)

    def read_position(self) -> int:
        """How far the mirror model has read the change log (a registry id)."""
        with self.runner.postgres.connect() as conn:
            return lake_objects.last_read(conn, "app_orders_cdc", "silver/orders_cdc")

    def rewind(self, position: int) -> None:
        """Make the mirror model read the change log again from `position` (as a re-executed run would)."""
        with self.runner.postgres.connect() as conn:
            conn.execute(
                "UPDATE lakehouse_state.model_inputs SET last_id = %s "
                "WHERE model = 'app_orders_cdc' AND dataset = 'silver/orders_cdc'",
                [position],
            )

    def apply_one_batch(self):
        """Run the mirror model on the next change-log object only."""
        runner = ModelRunner(
            self.models,
            self.runner.store,
            self.runner.postgres,
            ModelSettings(max_objects_per_batch=1, max_batches_per_run=1),
        )
        return runner.run(self.models["app_orders_cdc"])

    def mirror_state(self, keys: set[str]) -> set[tuple]:
        """The mirror's rows of these ids with where each came from and when it was applied (and their deletes)."""
        with self.runner.postgres.connect() as conn:
            rows = conn.execute("SELECT *, 'row' FROM app.orders_cdc WHERE order_id = ANY(%s)", [list(keys)]).fetchall()
            gone = conn.execute(
                "SELECT *, 'deleted' FROM app.orders_cdc_deletes WHERE order_id = ANY(%s)", [list(keys)]
            ).fetchall()
        return set(rows) | set(gone)

    def change_log(self, keys: set[str]) -> list[tuple]:
        """(change_id, after as JSON text) of these ids in silver/orders_cdc, duplicates kept."""
        store = self.runner.store
        con = lake_duckdb.connect(store)
        try:
            return con.execute(
                f"SELECT change_id, after FROM read_parquet('{store.uri('silver/orders_cdc')}/**/*.parquet',"
                " hive_partitioning=false) WHERE order_id IN (SELECT unnest(?))",
                [list(keys)],
            ).fetchall()
        finally:
            con.close()

    def wait_equal(self, timeout: float = 90.0) -> list:
        """Catch up until the mirror equals the source (fails with the difference); the mirror's runs."""
        deadline, runs = time.monotonic() + timeout, []
        while True:
            runs.append(self.catch_up()["app_orders_cdc"])
            diff = self.difference()
            if not diff or time.monotonic() > deadline:
                break
            time.sleep(2)
        assert not diff, f"{len(diff)} rows differ between app.orders and the mirror: {sorted(diff)[:6]}"
        return [run for run in runs if run is not None]
