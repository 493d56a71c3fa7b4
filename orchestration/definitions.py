"""The code location `dagster dev` loads (see workspace.yaml)."""

from __future__ import annotations

from dagster import Definitions

from orchestration.cdc import cdc_definitions
from orchestration.flink import flink_definitions
from orchestration.lake import lake_definitions
from orchestration.operations import operations_defs
from orchestration.spark import spark_definitions

# Each engine and concern builds its own Definitions, the way dagster-open-platform's defs/<domain>/ do: the lake
# (orchestration/lake.py: Kafka → bronze → silver → Postgres → Superset), the Flink and Spark pipelines
# (docs/flink.md, docs/spark.md) and change data capture (docs/cdc.md); then the platform's upkeep over all of them
# (docs/operations.md).
defs = Definitions.merge(lake_definitions(), flink_definitions(), spark_definitions(), cdc_definitions())
defs = Definitions.merge(defs, operations_defs(defs))
