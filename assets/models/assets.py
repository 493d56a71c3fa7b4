"""One Dagster asset per SQL model, with the lineage its ref()s and source()s declare."""
# No `from __future__ import annotations` here: Dagster reads the annotations of asset functions at runtime.

from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, MaterializeResult, MetadataValue, asset

from assets.models.project import Model, load_models
from assets.models.runner import ModelRunner
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

    @asset(key=model_key(model), deps=deps, group_name=model.folder, description=_description(model),
           kinds={"duckdb", "postgres"} if model.target == "postgres" else {"duckdb", "s3"},
           op_tags={"lakehouse/models": "serial"})
    def _model(context: AssetExecutionContext, object_store: ObjectStoreResource,
               postgres: PostgresResource) -> MaterializeResult:
        result = ModelRunner(models, object_store, postgres).run(model)
        context.log.info(f"{model.name}: {len(result.inputs)} new input objects, {result.rows} rows written")
        return MaterializeResult(metadata={
            "model_file": str(model.path.relative_to(model.path.parents[2])),
            "batch_id": result.batch_id or "",
            "new_input_objects": len(result.inputs),
            "rows_written": result.rows,
            "outputs": MetadataValue.json(result.outputs),
        })

    return _model


def model_assets() -> list[AssetsDefinition]:
    """Assets of every model under dbt_like_sql/models."""
    models = load_models()
    return [build_model_asset(model, models) for model in models.values()]
