"""Run a model: render its SQL for this run, compute it with DuckDB, write the result, record what it consumed.

Incremental models consume only input objects they have not consumed before (recorded in
lakehouse_state.processed_objects: for s3 models after the output is safely written, for Postgres
models in the same transaction as the output). Output is written so that repeating a batch changes nothing:
- s3 models write Parquet files named after the batch (b<batch id>_*.parquet) under
  <folder>/<stem>/<partition columns>/, replacing that batch's earlier files, and drop rows whose
  unique key is already in the model's other files of the same partitions;
- postgres models upsert on their unique key (keeping the newer row when `newer_by` is set);
- views are CREATE OR REPLACE.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import jinja2
import yaml

from assets.models.project import Model
from assets.models.windows import run_windowed
from resources import duckdb as lake_duckdb
from resources.migrations import apply_migrations
from resources.object_store import ObjectStoreResource
from resources.postgres import PostgresResource

SOURCES_FILE = Path(__file__).resolve().parents[2] / "dbt_like_sql" / "sources.yml"


class ModelRunError(RuntimeError):
    """A model could not run; the message names the model and the cause."""


@dataclass
class ModelRun:
    """What one run of a model did."""

    model: str
    batch_id: str | None = None
    inputs: list[str] = field(default_factory=list)
    rows: int = 0
    outputs: list[str] = field(default_factory=list)
    late_events: int = 0  # windowed models
    future_events: int = 0  # windowed models: event times beyond now + WINDOW_MAX_FUTURE_SECONDS
    watermark: object = None  # windowed models: the watermark after the batch


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

    def __init__(self, models: dict[str, Model], store: ObjectStoreResource, postgres: PostgresResource) -> None:
        self.models, self.store, self.postgres = models, store, postgres
        self.sources = load_sources()

    # -- inputs ---------------------------------------------------------------------------------
    def uris(self, keys: list[str]) -> str:
        """A DuckDB list literal of the s3:// URIs of `keys`."""
        return _list_literal([self.store.uri(k) for k in keys])

    def keys(self, prefix: str, suffix: str) -> list[str]:
        """Object keys under `prefix`/ ending in `suffix`, sorted."""
        s3 = self.store.client()
        keys = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.store.bucket, Prefix=prefix + "/"):
            keys.extend(o["Key"] for o in page.get("Contents", []) if o["Key"].endswith(suffix))
        return sorted(keys)

    def _input(self, model: Model) -> list[str]:
        """Every object key the model reads (the increment is chosen later)."""
        if model.sources:
            layer, name = model.sources[0]
            spec = self.sources.get((layer, name))
            if spec is None:
                raise ModelRunError(f"{model.name}: source('{layer}', '{name}') is not declared in {SOURCES_FILE.name}")
            return self.keys(spec["prefix"], ".jsonl.gz")
        return self.keys(self.models[model.refs[0]].relation, ".parquet")

    def _processed(self, model: Model) -> set[str]:
        with self.postgres.connect() as conn:
            rows = conn.execute("SELECT object_key FROM lakehouse_state.processed_objects WHERE model = %s",
                                [model.name]).fetchall()
        return {r[0] for r in rows}

    def record(self, cur, model: Model, keys: list[str], batch_id: str) -> None:
        """Record `keys` as consumed by `model`, inside the caller's transaction."""
        with cur.copy("COPY lakehouse_state.processed_objects (model, object_key, batch_id) FROM STDIN") as copy:
            for key in keys:
                copy.write_row((model.name, key, batch_id))

    def _record(self, model: Model, keys: list[str], batch_id: str) -> None:
        with self.postgres.connect() as conn, conn.cursor() as cur:
            self.record(cur, model, keys, batch_id)

    # -- rendering ------------------------------------------------------------------------------
    def render(self, model: Model, inputs: list[str], ref_as: str | None = None) -> str:
        """The model's SQL for this run: source()/ref() of the input become readers of `inputs`
        (or the table `ref_as`, for windowed models)."""
        uris = self.uris(inputs)

        def source(layer: str, name: str) -> str:
            spec = self.sources[(layer, name)]
            columns = "{" + ", ".join(f"{_quote(c)}: {_quote(t)}" for c, t in spec["columns"].items()) + "}"
            return f"read_json({uris}, format='newline_delimited', columns={columns})"

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
    def run(self, model: Model) -> ModelRun:
        """Run one model once."""
        apply_migrations(self.postgres.url)
        if model.materialized == "view":
            return self._view(model)
        keys = self._input(model)
        done = self._processed(model)
        todo = [k for k in keys if k not in done]
        result = ModelRun(model.name, inputs=todo)
        if not todo:
            return result
        result.batch_id = hashlib.sha256("\n".join(todo).encode()).hexdigest()[:16]
        con = lake_duckdb.connect(self.store)
        try:
            if model.materialized == "windowed":
                run_windowed(self, model, todo, con, result)  # records the batch in its own transaction
                return result
            con.execute(f"CREATE TEMP TABLE batch AS {self.render(model, todo)}")
            if model.target == "s3":
                self._write_parquet(con, model, result)
                self._record(model, todo, result.batch_id)  # after the files are safely written
            else:
                self._upsert_postgres(con, model, result, todo)
        except duckdb.Error as exc:
            raise ModelRunError(f"{model.name} ({model.path.name}): {exc}") from exc
        finally:
            con.close()
        return result

    def _view(self, model: Model) -> ModelRun:
        with self.postgres.connect() as conn:
            conn.execute(f"CREATE OR REPLACE VIEW {model.relation} AS {self.render(model, [])}")
        return ModelRun(model.name, outputs=[model.relation])

    def _write_parquet(self, con: duckdb.DuckDBPyConnection, model: Model, result: ModelRun) -> None:
        key, parts = model.config["unique_key"], model.config["partition_by"]
        touched = con.execute(f"SELECT DISTINCT {', '.join(parts)} FROM batch").fetchall()
        prefixes = ["/".join([model.relation] + [f"{c}={v}" for c, v in zip(parts, row)]) for row in touched]
        ours = f"b{result.batch_id}_"
        existing, stale = [], []
        for prefix in prefixes:
            for k in self.keys(prefix, ".parquet"):
                (stale if k.rsplit("/", 1)[1].startswith(ours) else existing).append(k)
        if existing:
            con.execute(f"DELETE FROM batch WHERE {key} IN (SELECT {key} FROM read_parquet("
                        f"{_list_literal([self.store.uri(k) for k in existing])}, hive_partitioning=false))")
        if stale:  # an earlier attempt of this very batch: replace its files
            self.store.client().delete_objects(Bucket=self.store.bucket,
                                               Delete={"Objects": [{"Key": k} for k in stale]})
        result.rows = con.execute("SELECT count(*) FROM batch").fetchone()[0]
        if result.rows:
            con.execute(f"COPY batch TO {_quote(self.store.uri(model.relation))} (FORMAT parquet, "
                        f"PARTITION_BY ({', '.join(parts)}), FILENAME_PATTERN '{ours}{{i}}', "
                        f"OVERWRITE_OR_IGNORE true)")
            result.outputs = prefixes

    def _upsert_postgres(self, con: duckdb.DuckDBPyConnection, model: Model, result: ModelRun,
                         todo: list[str]) -> None:
        """Upsert the batch into the model's table: DuckDB copies it into a staging table (binary COPY
        through its postgres extension), then one Postgres transaction upserts, records the batch and
        drops the staging table."""
        key, newer_by = model.config["unique_key"], model.config.get("newer_by")
        columns = [c[0] for c in con.execute("SELECT * FROM batch LIMIT 0").description]
        result.rows = con.execute("SELECT count(*) FROM batch").fetchone()[0]
        staging = f"lakehouse_state.staging_{model.name}_{result.batch_id}"
        names = ", ".join(columns)
        with self.postgres.connect(autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {staging}")  # left by an attempt that crashed
            conn.execute(f"CREATE UNLOGGED TABLE {staging} AS SELECT {names} FROM {model.relation} WITH NO DATA")
        con.execute("LOAD postgres")
        con.execute(f"ATTACH {_quote(self.postgres.url)} AS pg (TYPE postgres)")
        try:
            con.execute(f"INSERT INTO pg.{staging} SELECT {names} FROM batch")
        finally:
            con.execute("DETACH pg")
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c != key) + ", updated_at = now()"
        guard = f" WHERE {model.relation}.{newer_by} <= EXCLUDED.{newer_by}" if newer_by else ""
        with self.postgres.connect() as conn, conn.cursor() as cur:
            cur.execute(f"INSERT INTO {model.relation} ({names}) SELECT {names} FROM {staging} "
                        f"ON CONFLICT ({key}) DO UPDATE SET {updates}{guard}")
            self.record(cur, model, todo, result.batch_id)  # same transaction: exactly once
            cur.execute(f"DROP TABLE {staging}")
        result.outputs = [model.relation]
