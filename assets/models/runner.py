"""Run a model: render its SQL for this run, compute it with DuckDB, write the result, record what it consumed.

A model reads its one input dataset (a bronze topic through source(), or an s3 model through ref()) from the
lake's object registry (assets/lake_objects.py): the objects after the last one it read, at most a bounded
batch, and records how far it read (for s3 models after the output is safely written and registered, for
Postgres models in the same transaction as the output). One run of a model at a time, whoever launches it:
a session advisory lock per model; a run that finds the lock taken leaves the work to its holder, which
looks for more input after every batch and once more after letting the lock go.
Output is written so that repeating a batch changes nothing:
- s3 models write Parquet files named after the batch (b<batch id>_*.parquet) under
  <folder>/<stem>/<partition columns>/, replacing that batch's earlier files, and drop rows whose
  unique key is already in the model's committed files of the same partitions (the registry's);
- postgres models upsert on their unique key (keeping the newer row when `newer_by` is set);
- views are CREATE OR REPLACE;
- changes models apply a change log to a mirror table, a change only if newer than the row's (changes.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import jinja2
import yaml

from assets import lake_objects
from assets.models.changes import run_changes
from assets.models.project import Model
from assets.models.windows import run_windowed
from resources.duckdb import DuckDBResource
from resources.models import ModelSettings
from resources.object_store import ObjectStoreResource
from resources.postgres import PostgresResource
from resources.redact import redact

SOURCES_FILE = Path(__file__).resolve().parents[2] / "dbt_like_sql" / "sources.yml"


class ModelRunError(RuntimeError):
    """A model could not run; the message names the model and the cause."""


@dataclass
class ModelRun:
    """What one run of a model did."""

    model: str
    batch_id: str | None = None
    dataset: str = ""  # the input dataset
    last_id: int = 0  # the registry id up to which this batch read it
    inputs: list[str] = field(default_factory=list)
    rows: int = 0
    outputs: list[str] = field(default_factory=list)
    batches: int = 0  # batches folded into this result (a run may take several)
    backlog_objects: int = 0  # input objects still unread after the run
    backlog_bytes: int = 0
    backlog_records: int = 0
    late_events: int = 0  # windowed models
    future_events: int = 0  # windowed models: event times beyond now + WINDOW_MAX_FUTURE_SECONDS
    watermark: object = None  # windowed models: the watermark after the batch
    figures: dict = field(default_factory=dict)  # changes models: counts and replication lag (asset metadata)


def load_sources(path: Path = SOURCES_FILE) -> dict[tuple[str, str], dict]:
    """(layer, name) -> {prefix, format, columns} from dbt_like_sql/sources.yml."""
    raw = yaml.safe_load(path.read_text())
    return {(layer, name): spec for layer, tables in raw.items() for name, spec in tables.items()}


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _list_literal(uris: list[str]) -> str:
    return "[" + ", ".join(_quote(u) for u in uris) + "]"


class ModelRunner:
    """Runs models against the object store and Postgres."""

    def __init__(
        self,
        models: dict[str, Model],
        store: ObjectStoreResource,
        postgres: PostgresResource,
        settings: ModelSettings | None = None,
        duckdb: DuckDBResource | None = None,
    ) -> None:
        self.models, self.store, self.postgres = models, store, postgres
        self.settings = settings or ModelSettings()
        self.duckdb = duckdb or DuckDBResource()
        self.sources = load_sources()

    # -- inputs ---------------------------------------------------------------------------------
    def uris(self, keys: list[str]) -> str:
        """A DuckDB list literal of the s3:// URIs of `keys`."""
        return _list_literal([self.store.uri(k) for k in keys])

    def dataset(self, model: Model) -> str:
        """The registry dataset the model reads: bronze/<topic> for a source (the source's `topic`, else its
        name), the upstream's prefix for a ref."""
        if model.sources:
            layer, name = model.sources[0]
            if (layer, name) not in self.sources:
                raise ModelRunError(f"{model.name}: source('{layer}', '{name}') is not declared in {SOURCES_FILE.name}")
            return f"{layer}/{self.sources[(layer, name)].get('topic', name)}"
        return self.models[model.refs[0]].relation

    def record(self, cur, model: Model, result: ModelRun) -> None:
        """Record inside the caller's transaction that `model` read its input up to this batch."""
        lake_objects.mark_read(cur, model.name, result.dataset, result.last_id)

    # -- rendering ------------------------------------------------------------------------------
    def source_reader(self, layer: str, name: str, uris: str) -> str:
        """What source('<layer>', '<name>') reads: the JSON lines at `uris` (see `uris`) with the declared columns."""
        spec = self.sources[(layer, name)]
        columns = "{" + ", ".join(f"{_quote(c)}: {_quote(t)}" for c, t in spec["columns"].items()) + "}"
        return f"read_json({uris}, format='newline_delimited', columns={columns})"

    def render(self, model: Model, inputs: list[str], ref_as: str | None = None) -> str:
        """The model's SQL for this run: source()/ref() of the input become readers of `inputs`
        (or the table `ref_as`, for windowed models)."""
        uris = self.uris(inputs)

        def source(layer: str, name: str) -> str:
            return self.source_reader(layer, name, uris)

        def ref(name: str) -> str:
            upstream = self.models[name]
            if model.target == "postgres" and model.materialized == "view":
                return upstream.relation  # a view is Postgres SQL over Postgres relations
            if ref_as:
                return ref_as
            return f"read_parquet({uris}, hive_partitioning=false)"

        env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
        env.globals.update(config=lambda **_: "", ref=ref, source=source)
        return env.from_string(model.template).render()

    # -- running --------------------------------------------------------------------------------
    def run(self, model: Model) -> ModelRun | None:
        """Bring `model` up to date, one bounded batch after another; None when another run holds it."""
        if model.materialized == "view":
            return self._view(model)
        total = ModelRun(model.name, dataset=self.dataset(model))
        while True:
            with self._lock(model) as held:
                if not held:
                    return total if total.batches else None  # the holder does the work
                while total.batches < self.settings.max_batches_per_run:
                    batch = self._batch(model, total.dataset)
                    if not batch.inputs:
                        break
                    _fold(total, batch)
            # a batch landed while we held the lock was left to us by a run that found it taken
            total.backlog_objects, total.backlog_bytes, total.backlog_records = self._backlog(model, total.dataset)
            if not total.backlog_objects or total.batches >= self.settings.max_batches_per_run:
                return total

    @contextmanager
    def _lock(self, model: Model) -> Iterator[bool]:
        """Hold the model's session advisory lock while the block runs (False: another run has it). A run
        that dies loses its connection, and the lock with it."""
        with self.postgres.connect(autocommit=True) as conn:
            held = conn.execute(
                "SELECT pg_try_advisory_lock(hashtext('lakehouse_model:' || %s))", [model.name]
            ).fetchone()[0]
            try:
                yield held
            finally:
                if held:
                    conn.execute("SELECT pg_advisory_unlock(hashtext('lakehouse_model:' || %s))", [model.name])

    def _backlog(self, model: Model, dataset: str) -> tuple[int, int, int]:
        with self.postgres.connect() as conn:
            return lake_objects.backlog(conn, dataset, lake_objects.last_read(conn, model.name, dataset))

    def _batch(self, model: Model, dataset: str) -> ModelRun:
        """Run one batch: the next unread input objects, at most max_objects/bytes/records_per_batch."""
        with self.postgres.connect() as conn:
            after = lake_objects.last_read(conn, model.name, dataset)
            objects = lake_objects.unread(
                conn,
                dataset,
                after,
                self.settings.max_objects_per_batch,
                self.settings.max_bytes_per_batch,
                self.settings.max_records_per_batch,
            )
        todo = [o.key for o in objects]
        result = ModelRun(model.name, dataset=dataset, inputs=todo)
        if not todo:
            return result
        result.last_id = objects[-1].id
        result.batch_id = hashlib.sha256(f"{dataset}:{objects[0].id}-{result.last_id}".encode()).hexdigest()[:16]
        con = self.duckdb.session(self.store)
        try:
            if model.materialized == "windowed":
                run_windowed(self, model, todo, con, result)  # records the batch in its own transaction
                return result
            con.execute(f"CREATE TEMP TABLE batch AS {self.render(model, todo)}")
            if model.materialized == "changes":
                run_changes(self, model, con, result)  # applies and records the batch in one transaction
            elif model.target == "s3":
                self._write_parquet(con, model, result)
            else:
                self._upsert_postgres(con, model, result)
        except duckdb.Error as exc:
            self.duckdb.discard(self.store)
            # from None: the driver's exception may carry the connection URL with its password
            raise ModelRunError(f"{model.name} ({model.path.name}): {redact(str(exc), [self.postgres.url])}") from None
        finally:
            _drop_temp_tables(con)
        return result

    def _view(self, model: Model) -> ModelRun:
        """CREATE OR REPLACE the view when its SQL changed (its hash is the view's comment); otherwise leave it,
        so runs every few seconds take no lock that the dashboard's queries would wait on."""
        sql = self.render(model, [])
        digest = "sha256:" + hashlib.sha256(sql.encode()).hexdigest()
        with self.postgres.connect() as conn:
            current = conn.execute("SELECT obj_description(to_regclass(%s), 'pg_class')", [model.relation]).fetchone()[
                0
            ]
            if current != digest:
                conn.execute(f"CREATE OR REPLACE VIEW {model.relation} AS {sql}")
                conn.execute(f"COMMENT ON VIEW {model.relation} IS {_quote(digest)}")
        return ModelRun(model.name, outputs=[model.relation], batches=1)

    def _write_parquet(self, con: duckdb.DuckDBPyConnection, model: Model, result: ModelRun) -> None:
        """Drop the batch's rows whose key the model's committed files of the same partitions hold (found in the
        registry, not by listing), replace an earlier attempt's files of this very batch, write, register."""
        key, parts = model.config["unique_key"], model.config["partition_by"]
        touched = con.execute(f"SELECT DISTINCT {', '.join(parts)} FROM batch").fetchall()
        prefixes = [
            "/".join([model.relation] + [f"{c}={v}" for c, v in zip(parts, row, strict=False)]) for row in touched
        ]
        ours = f"b{result.batch_id}_"
        with self.postgres.connect() as conn:
            existing = lake_objects.keys_under(conn, model.relation, prefixes)
        if existing:
            con.execute(
                f"DELETE FROM batch WHERE {key} IN (SELECT {key} FROM read_parquet({self.uris(existing)}, "
                f"hive_partitioning=false))"
            )
        stale = self._attempts(prefixes, ours)
        if stale:  # an earlier attempt of this very batch, never registered: replace its files
            self.store.client().delete_objects(
                Bucket=self.store.bucket, Delete={"Objects": [{"Key": k} for k in stale]}
            )
        result.rows = con.execute("SELECT count(*) FROM batch").fetchone()[0]
        written: list[tuple[str, int, int]] = []
        if result.rows:
            stats = con.execute(
                f"COPY batch TO {_quote(self.store.uri(model.relation))} (FORMAT parquet, "
                f"PARTITION_BY ({', '.join(parts)}), FILENAME_PATTERN '{ours}{{i}}', "
                f"OVERWRITE_OR_IGNORE true, RETURN_STATS true)"
            ).fetchall()
            root = self.store.uri("")
            written = [(name.removeprefix(root), int(count), int(size)) for name, count, size, *_ in stats]
            result.outputs = prefixes
        with self.postgres.connect() as conn, conn.cursor() as cur:  # after the files are safely written
            lake_objects.register(cur, model.relation, written)
            self.record(cur, model, result)

    def _attempts(self, prefixes: list[str], ours: str) -> list[str]:
        """Files an earlier attempt of this batch left under `prefixes` (one listing per partition, in parallel:
        a large batch touches dozens)."""
        s3 = self.store.client()  # one client: creating clients is not thread-safe, using one is
        pages = s3.get_paginator("list_objects_v2")

        def listed(prefix: str) -> list[str]:
            found = pages.paginate(Bucket=self.store.bucket, Prefix=f"{prefix}/{ours}")
            return [o["Key"] for page in found for o in page.get("Contents", []) if o["Key"].endswith(".parquet")]

        with ThreadPoolExecutor(max_workers=8) as pool:
            return [key for keys in pool.map(listed, prefixes) for key in keys]

    def _upsert_postgres(self, con: duckdb.DuckDBPyConnection, model: Model, result: ModelRun) -> None:
        """Upsert the batch into the model's table: DuckDB copies it into a staging table (binary COPY
        through its postgres extension), then one Postgres transaction upserts, records the batch and
        drops the staging table (dropped too when anything fails)."""
        key, newer_by = model.config["unique_key"], model.config.get("newer_by")
        columns = [c[0] for c in con.execute("SELECT * FROM batch LIMIT 0").description]
        result.rows = con.execute("SELECT count(*) FROM batch").fetchone()[0]
        staging = f"lakehouse_state.staging_{model.name}_{result.batch_id}"
        names = ", ".join(columns)
        with self.postgres.connect(autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {staging}")  # left by an attempt that crashed
            conn.execute(f"CREATE UNLOGGED TABLE {staging} AS SELECT {names} FROM {model.relation} WITH NO DATA")
        try:
            con.execute("LOAD postgres")
            con.execute(f"ATTACH {_quote(self.postgres.url)} AS pg (TYPE postgres)")
            try:
                con.execute(f"INSERT INTO pg.{staging} SELECT {names} FROM batch")
            finally:
                con.execute("DETACH pg")
            updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c != key) + ", updated_at = now()"
            guard = f" WHERE {model.relation}.{newer_by} <= EXCLUDED.{newer_by}" if newer_by else ""
            with self.postgres.connect() as conn, conn.cursor() as cur:
                cur.execute(
                    f"INSERT INTO {model.relation} ({names}) SELECT {names} FROM {staging} "
                    f"ON CONFLICT ({key}) DO UPDATE SET {updates}{guard}"
                )
                self.record(cur, model, result)  # same transaction: exactly once
        finally:
            with self.postgres.connect(autocommit=True) as conn:
                conn.execute(f"DROP TABLE IF EXISTS {staging}")
        result.outputs = [model.relation]


def _drop_temp_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Leave the run's shared session as the batch found it (a discarded session is closed: nothing to drop)."""
    try:
        for (name,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall():
            con.execute(f'DROP TABLE IF EXISTS temp."{name}"')
    except duckdb.ConnectionException:
        pass


def _fold(total: ModelRun, batch: ModelRun) -> None:
    """Add one batch's figures to the run's."""
    total.batches += 1
    total.inputs += batch.inputs
    total.rows += batch.rows
    total.outputs = list(dict.fromkeys(total.outputs + batch.outputs))
    total.late_events += batch.late_events
    total.future_events += batch.future_events
    total.watermark = batch.watermark or total.watermark
    total.batch_id = batch.batch_id or total.batch_id
    total.last_id = batch.last_id or total.last_id
    for name, value in batch.figures.items():  # counts add up; the lag is the latest batch's that applied any
        total.figures[name] = value if name.startswith("replication_lag") else total.figures.get(name, 0) + value
