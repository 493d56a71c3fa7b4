"""The code location `dagster dev` loads (see workspace.yaml)."""

from __future__ import annotations

from dagster import Definitions, in_process_executor

from orchestration.cdc import cdc_definitions
from orchestration.flink import flink_definitions
from orchestration.lake import lake_definitions
from orchestration.operations import operations_defs
from orchestration.spark import spark_definitions

# Each engine and concern builds its own Definitions, the way dagster-open-platform's defs/<domain>/ do: the lake
# (orchestration/lake.py: Kafka → bronze → silver → Postgres → Superset), the Flink and Spark pipelines
# (docs/flink.md, docs/spark.md) and change data capture (docs/cdc.md); then the platform's upkeep over all of them
# (docs/operations.md).
# Every job runs its steps in the run's own process unless it says otherwise: a process per step costs seconds per
# run and leaves step processes behind when a run is interrupted (the UI's materializations and the automation
# sensor's runs use this default too).
defs = Definitions.merge(
    lake_definitions(),
    flink_definitions(),
    spark_definitions(),
    cdc_definitions(),
    Definitions(executor=in_process_executor),
)
defs = Definitions.merge(defs, operations_defs(defs))
