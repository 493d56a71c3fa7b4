"""Change data capture in Dagster: register the connector, restart, pause, resume or remove it, and the sensor that
watches it. `cdc_definitions()` is merged into the code location (orchestration/definitions.py)."""

import json

from dagster import (
    AssetObservation,
    AssetSelection,
    AutomationConditionSensorDefinition,
    Config,
    DefaultSensorStatus,
    Definitions,
    OpExecutionContext,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    define_asset_job,
    job,
    op,
    sensor,
)

from assets.cdc.assets import shop_orders_connector, slot_retained_wal
from assets.cdc.connector import ASSET_KEY, DEFAULT_NAME
from assets.cdc.control import remove, wait_for
from assets.cdc.figures import connector_figures
from assets.cdc.watch import assess
from resources.cdc_source import CdcSourceResource
from resources.definitions import cdc_resources
from resources.kafka_connect import KafkaConnectError, KafkaConnectResource

WATCH_INTERVAL_SECONDS = 30
CONTROL_TAGS = {"dagster/priority": "10"}  # someone waits on these in the UI (as the Flink control jobs)


class CdcControlConfig(Config):
    """Which connector to act on, and how long to wait for it to settle."""

    connector_name: str = DEFAULT_NAME
    wait_seconds: float = 120.0


def _observe(
    context: OpExecutionContext, connect: KafkaConnectResource, source: CdcSourceResource, name: str, status: dict
) -> None:
    context.log_event(AssetObservation(ASSET_KEY, metadata=connector_figures(connect, source, name, status)))


@op(description="Restart the connector and its tasks, then wait until they run")
def restart_cdc_connector(
    context: OpExecutionContext,
    config: CdcControlConfig,
    kafka_connect: KafkaConnectResource,
    cdc_source: CdcSourceResource,
) -> None:
    kafka_connect.restart(config.connector_name)
    status = wait_for(kafka_connect, config.connector_name, "RUNNING", config.wait_seconds, grace=10.0)
    _observe(context, kafka_connect, cdc_source, config.connector_name, status)


@op(description="Pause the connector's tasks (the slot stays, and holds back WAL while paused)")
def pause_cdc_connector(
    context: OpExecutionContext,
    config: CdcControlConfig,
    kafka_connect: KafkaConnectResource,
    cdc_source: CdcSourceResource,
) -> None:
    kafka_connect.pause(config.connector_name)
    status = wait_for(kafka_connect, config.connector_name, "PAUSED", config.wait_seconds)
    _observe(context, kafka_connect, cdc_source, config.connector_name, status)


@op(description="Resume a paused or stopped connector, then wait until it runs")
def resume_cdc_connector(
    context: OpExecutionContext,
    config: CdcControlConfig,
    kafka_connect: KafkaConnectResource,
    cdc_source: CdcSourceResource,
) -> None:
    kafka_connect.resume(config.connector_name)
    status = wait_for(kafka_connect, config.connector_name, "RUNNING", config.wait_seconds)
    _observe(context, kafka_connect, cdc_source, config.connector_name, status)


@op(description="Stop the connector, forget its offsets, delete it and drop its replication slot")
def remove_cdc_connector(
    context: OpExecutionContext,
    config: CdcControlConfig,
    kafka_connect: KafkaConnectResource,
    cdc_source: CdcSourceResource,
) -> None:
    slot, dropped = remove(kafka_connect, cdc_source, config.connector_name, context.log.info, config.wait_seconds)
    context.log_event(
        AssetObservation(
            ASSET_KEY,
            metadata={
                "connector": config.connector_name,
                "connector_state": "REMOVED",
                "slot": slot,
                "slot_dropped": dropped,
            },
        )
    )


@job(description="Restart a CDC connector and its tasks (config: connector_name)", tags=CONTROL_TAGS)
def cdc_restart_connector():
    restart_cdc_connector()


@job(description="Pause a CDC connector (config: connector_name)", tags=CONTROL_TAGS)
def cdc_pause_connector():
    pause_cdc_connector()


@job(description="Resume a paused or stopped CDC connector (config: connector_name)", tags=CONTROL_TAGS)
def cdc_resume_connector():
    resume_cdc_connector()


@job(
    description="Remove a CDC connector: its offsets and its replication slot go with it (config: connector_name)",
    tags=CONTROL_TAGS,
)
def cdc_remove_connector():
    remove_cdc_connector()


cdc_register_connector = define_asset_job(
    "cdc_register_connector",
    selection=AssetSelection.assets(shop_orders_connector),
    tags=CONTROL_TAGS,
    description="Register (or update) the Debezium connector of the application database and check its slot",
)


@sensor(
    minimum_interval_seconds=WATCH_INTERVAL_SECONDS,
    default_status=DefaultSensorStatus.RUNNING,
    description="Every 30 s: state, committed LSN and slot WAL of each Debezium connector; fails with Connect's "
    "trace when a connector or task failed, and with Connect's validation of its config when it "
    "runs without reading its slot (a refused login) or is stuck unassigned or restarting",
)
def cdc_connectors_sensor(
    context: SensorEvaluationContext, kafka_connect: KafkaConnectResource, cdc_source: CdcSourceResource
):
    cursor = json.loads(context.cursor or "{}")
    try:
        verdict = assess(kafka_connect, cdc_source, cursor.get("unsettled", {}))
    except KafkaConnectError as exc:
        if not cursor.get("seen"):
            return SkipReason(f"no connector to watch yet ({exc})")
        raise KafkaConnectError(f"{exc}; connectors {', '.join(cursor['seen'])} were running there") from None
    if verdict.problems:  # raising keeps the previous cursor: first-seen times stay
        raise RuntimeError("\n\n".join(verdict.problems))
    seen = sorted(set(verdict.figures) | set(verdict.memory))
    context.update_cursor(json.dumps({"unsettled": verdict.memory, "seen": seen}))
    if not seen:
        return SkipReason(f"no Debezium connector on {kafka_connect.url} (materialize {ASSET_KEY.to_user_string()})")
    return SensorResult(
        asset_events=[AssetObservation(ASSET_KEY, metadata=figures) for figures in verdict.figures.values()]
    )


def cdc_definitions() -> Definitions:
    """The CDC asset, its check, jobs, sensors and resources, to merge into the code location."""
    return Definitions(
        assets=[shop_orders_connector],
        asset_checks=[slot_retained_wal],
        jobs=[
            cdc_register_connector,
            cdc_restart_connector,
            cdc_pause_connector,
            cdc_resume_connector,
            cdc_remove_connector,
        ],
        sensors=[
            cdc_connectors_sensor,
            # Registers the connector while the asset was never materialized (assets/cdc/assets.py).
            AutomationConditionSensorDefinition(
                "cdc_automation_sensor",
                target=AssetSelection.assets(shop_orders_connector),
                default_status=DefaultSensorStatus.RUNNING,
            ),
        ],
        resources=cdc_resources(),
    )
