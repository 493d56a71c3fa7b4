"""Read the SQL models: their config, the models they `ref` and the sources they read; check the graph.

A model is dbt_like_sql/models/<folder>/<name>.sql. Its name is `<folder>_<name>`, its asset key
[<folder>, <name>]. The file is a Jinja template that calls `config(...)` once and may call
`ref('model')` and `source('bronze', '<topic>')`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import jinja2

MODELS_DIR = Path(__file__).resolve().parents[2] / "dbt_like_sql" / "models"
MATERIALIZATIONS = ("incremental", "view", "windowed", "changes")
# What a windowed model names in config(): its event time, window width, the event's dedup key, the entity the
# event is about, and the table late events go to (docs/windows.md).
WINDOWED_KEYS = ("time_column", "window_seconds", "event_key", "entity_key", "late_table")
# What a changes model names in config(): the key of a row, the columns that order its changes (a WAL position)
# and the table that keeps each deleted key's position (assets/models/changes.py).
CHANGES_KEYS = ("unique_key", "position", "deletes_table")
TARGETS = ("s3", "postgres")


class ModelError(ValueError):
    """A model file is wrong; the message names the file."""


@dataclass(frozen=True)
class Model:
    """One SQL model."""

    path: Path
    folder: str
    stem: str
    template: str
    config: dict = field(hash=False)
    refs: tuple[str, ...] = ()
    sources: tuple[tuple[str, str], ...] = ()

    @property
    def name(self) -> str:
        """What other models `ref`: <folder>_<file stem>."""
        return f"{self.folder}_{self.stem}"

    @property
    def materialized(self) -> str:
        """incremental, view, windowed (event-time windows with a watermark, docs/windows.md) or changes (a change
        log applied to a mirror table, docs/cdc.md)."""
        return self.config["materialized"]

    @property
    def target(self) -> str:
        """Where the result lives: s3 (Parquet under s3://<bucket>/<folder>/<stem>/) or postgres (<folder>.<stem>)."""
        return self.config["target"]

    @property
    def relation(self) -> str:
        """The Postgres relation of a postgres model, or the object-store prefix of an s3 model."""
        return f"{self.folder}.{self.stem}" if self.target == "postgres" else f"{self.folder}/{self.stem}"


def _environment(recorder: dict) -> jinja2.Environment:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)

    def config(**kwargs: object) -> str:
        recorder["config"].update(kwargs)
        return ""

    def ref(name: str) -> str:
        recorder["refs"].append(name)
        return f"__ref_{name}__"

    def source(layer: str, name: str) -> str:
        recorder["sources"].append((layer, name))
        return f"__source_{layer}_{name}__"

    env.globals.update(config=config, ref=ref, source=source)
    return env


def parse_model(path: Path, root: Path = MODELS_DIR) -> Model:
    """Read one model file: its config, refs and sources (a ModelError naming the file if it is malformed)."""
    relative = path.relative_to(root)
    if len(relative.parts) != 2:
        raise ModelError(f"{relative}: models live one folder deep (dbt_like_sql/models/<folder>/<name>.sql)")
    recorder: dict = {"config": {}, "refs": [], "sources": []}
    text = path.read_text()
    try:
        _environment(recorder).from_string(text).render()
    except jinja2.TemplateError as exc:
        raise ModelError(f"{relative}: {exc}") from exc
    cfg = recorder["config"]
    if cfg.get("materialized") not in MATERIALIZATIONS:
        raise ModelError(f"{relative}: config(materialized=...) must be one of {MATERIALIZATIONS}")
    if cfg.get("target") not in TARGETS:
        raise ModelError(f"{relative}: config(target=...) must be one of {TARGETS}")
    if cfg["materialized"] in ("incremental", "windowed", "changes") and not cfg.get("unique_key"):
        raise ModelError(f"{relative}: an {cfg['materialized']} model needs config(unique_key=...)")
    if cfg["materialized"] == "windowed":
        missing = [k for k in WINDOWED_KEYS if not cfg.get(k)]
        if missing:
            raise ModelError(f"{relative}: a windowed model needs config({', '.join(f'{k}=...' for k in missing)})")
    if cfg["materialized"] == "changes":
        missing = [k for k in CHANGES_KEYS if not cfg.get(k)]
        if missing or cfg["target"] != "postgres":
            raise ModelError(
                f"{relative}: a changes model lives in Postgres (target='postgres') and needs "
                f"config({', '.join(f'{k}=...' for k in CHANGES_KEYS)})"
            )
    inputs = len(set(recorder["refs"])) + len(set(recorder["sources"]))
    if cfg["materialized"] != "view" and inputs != 1:
        raise ModelError(
            f"{relative}: an {cfg['materialized']} model reads exactly one source() or ref() "
            f"(it names {inputs}); join upstream in a model of its own, or use a view"
        )
    if cfg["materialized"] == "view" and cfg["target"] != "postgres":
        raise ModelError(f"{relative}: views live in Postgres (target='postgres')")
    return Model(
        path,
        relative.parts[0],
        path.stem,
        text,
        dict(cfg),
        tuple(dict.fromkeys(recorder["refs"])),
        tuple(dict.fromkeys(recorder["sources"])),
    )


def load_models(root: Path = MODELS_DIR) -> dict[str, Model]:
    """Every model under `root`, by name, checked: unique names, known refs, no cycles."""
    models: dict[str, Model] = {}
    for path in sorted(root.glob("*/*.sql")):
        model = parse_model(path, root)
        if model.name in models:
            raise ModelError(f"{path}: model name {model.name!r} is used twice")
        models[model.name] = model
    for model in models.values():
        for name in model.refs:
            if name not in models:
                raise ModelError(f"{model.path}: ref('{name}') names no model; known: {sorted(models)}")
    _check_acyclic(models)
    return models


def _check_acyclic(models: dict[str, Model]) -> None:
    state: dict[str, str] = {}

    def visit(name: str, trail: list[str]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "active":
            cycle = trail[trail.index(name) :] + [name]
            files = ", ".join(str(models[n].path.relative_to(models[n].path.parents[1])) for n in cycle[:-1])
            raise ModelError(f"models form a cycle {' -> '.join(cycle)} ({files})")
        state[name] = "active"
        for ref in models[name].refs:
            visit(ref, trail + [name])
        state[name] = "done"

    for name in models:
        visit(name, [])


def build_order(models: dict[str, Model]) -> list[str]:
    """Model names, every model after the models it refs."""
    order: list[str] = []

    def visit(name: str) -> None:
        if name in order:
            return
        for ref in models[name].refs:
            visit(ref)
        order.append(name)

    for name in sorted(models):
        visit(name)
    return order
