"""One Dagster asset per SQL model, with the lineage its ref()s and source()s declare."""

# No `from __future__ import annotations` here: Dagster reads the annotations of asset functions at runtime.
from collections.abc import Iterator

from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, MaterializeResult, MetadataValue, asset

from assets.models.project import Model, load_models
from assets.models.runner import ModelRunner
from resources.duckdb import DuckDBResource
from resources.models import ModelSettings
from resources.object_store import ObjectStoreResource
from resources.postgres import PostgresResource


def model_key(model: Model) -> AssetKey:
    """[<folder>, <stem>]: silver/orders, app/orders, ..."""
    return AssetKey([model.folder, model.stem])


def _description(model: Model) -> str:
    comments = [line[2:].strip() for line in model.template.splitlines() if line.startswith("--")]
    where = f"`{model.relation}` in Postgres" if model.target == "postgres" else f"`s3://…/{model.relation}/`"
    return " ".join(comments) + f"\n\n{model.materialized} model {model.path.name} → {where}"


def build_model_asset(model: Model, models: dict[str, Model]) -> AssetsDefinition:
    """The asset that runs `model`."""
    deps = [model_key(models[name]) for name in model.refs] + [AssetKey(list(src)) for src in model.sources]

    # output_required=False: a run that finds the model being run by another one yields nothing (the holder
    # takes this run's input too), and the models downstream of it are skipped in this run.
    @asset(
        key=model_key(model),
        deps=deps,
        group_name=model.folder,
        description=_description(model),
        kinds={"duckdb", "postgres"} if model.target == "postgres" else {"duckdb", "s3"},
        output_required=False,
    )
    def _model(
        context: AssetExecutionContext,
        object_store: ObjectStoreResource,
        postgres: PostgresResource,
        model_settings: ModelSettings,
        duckdb: DuckDBResource,
    ) -> Iterator[MaterializeResult]:
        result = ModelRunner(models, object_store, postgres, model_settings, duckdb).run(model)
        if result is None:
            context.log.info(f"{model.name}: another run is bringing it up to date; skipped here")
            return
        context.log.info(
            f"{model.name}: {len(result.inputs)} new input objects in {result.batches} batch(es), "
            f"{result.rows} rows written, {result.backlog_objects} objects left"
        )
        yield MaterializeResult(
            metadata={
                "model_file": str(model.path.relative_to(model.path.parents[2])),
                "batch_id": result.batch_id or "",
                "batches": result.batches,
                "new_input_objects": len(result.inputs),
                "rows_written": result.rows,
                "backlog_objects": result.backlog_objects,
                "backlog_bytes": result.backlog_bytes,
                "backlog_records": result.backlog_records,
                "outputs": MetadataValue.json(result.outputs),
                **result.figures,
            }
        )

    return _model


def model_assets() -> list[AssetsDefinition]:
    """Assets of every model under dbt_like_sql/models."""
    models = load_models()
    return [build_model_asset(model, models) for model in models.values()]
