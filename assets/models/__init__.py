"""dbt-like SQL models (dbt_like_sql/models/**.sql) turned into Dagster assets."""

from assets.models.assets import model_assets

__all__ = ["model_assets"]
