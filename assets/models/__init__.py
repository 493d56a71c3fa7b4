"""dbt-like SQL models (dbt_like_sql/models/**.sql) turned into Dagster assets."""
