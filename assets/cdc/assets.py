"""The connector as an asset: materializing it registers the connector (or updates it) and reports its state;
its check watches the WAL the replication slot holds back."""
# No `from __future__ import annotations` here: Dagster reads the annotations of asset functions at runtime.

from dagster import (
    AssetCheckResult,
    AssetExecutionContext,
    AutomationCondition,
    Config,
    MaterializeResult,
    asset,
    asset_check,
)

from assets.cdc.connector import ASSET_KEY, DEFAULT_NAME, CdcConnectorConfig
from assets.cdc.control import register
from assets.cdc.figures import connector_figures
from assets.cdc.slot import slot_figures
from resources.cdc_source import CdcSourceResource
from resources.kafka_connect import KafkaConnectError, KafkaConnectResource

# Registered once by cdc_automation_sensor while never materialized (not while a run is in flight, not again after a
# failed one: that is for the sensor's red and a human). on_missing() would not do: it only fires for what goes
# missing after the condition was first evaluated, never for an asset missing from the start.
REGISTER_ONCE = (
    AutomationCondition.missing() & ~AutomationCondition.in_progress() & ~AutomationCondition.execution_failed()
).with_label("never registered, not running, not failed")


@asset(
    key=ASSET_KEY,
    group_name="cdc",
    kinds={"kafka", "postgres"},
    automation_condition=REGISTER_ONCE,
    description="Debezium PostgreSQL connector on Kafka Connect: the application database's app.orders → "
    "topic dbserver1.app.orders (c/u/d/r change events, JSON without schemas). Materializing "
    "registers it idempotently (PUT /connectors/<name>/config), restarts failed parts and waits "
    "until it runs.",
)
def shop_orders_connector(
    context: AssetExecutionContext,
    config: CdcConnectorConfig,
    kafka_connect: KafkaConnectResource,
    cdc_source: CdcSourceResource,
) -> MaterializeResult:
    done = register(config, kafka_connect, cdc_source, context.log.info)
    figures = connector_figures(kafka_connect, cdc_source, config.connector_name, done.status)
    return MaterializeResult(
        metadata={
            "created": done.created,
            "restarted_failed": done.restarted_failed,
            "topic": config.topic(),
            **figures,
        }
    )


class SlotCheckConfig(Config):
    """Which connector's slot to look at, and how much retained WAL is too much (0: the cdc_source resource's
    max_retained_bytes, CDC_SLOT_MAX_RETAINED_BYTES)."""

    connector_name: str = DEFAULT_NAME
    max_retained_bytes: int = 0


@asset_check(
    asset=ASSET_KEY,
    name="slot_retained_wal",
    description="The connector's replication slot exists and holds back at most max_retained_bytes of WAL "
    "(a stopped or slow connector makes Postgres keep WAL until its disk fills)",
)
def slot_retained_wal(
    config: SlotCheckConfig, kafka_connect: KafkaConnectResource, cdc_source: CdcSourceResource
) -> AssetCheckResult:
    connector = kafka_connect.config(config.connector_name)
    if connector is None:
        raise KafkaConnectError(
            f"Kafka Connect at {kafka_connect.url} has no connector named "
            f"{config.connector_name}: materialize {ASSET_KEY.to_user_string()} first"
        )
    slot = connector.get("slot.name", "")
    limit = config.max_retained_bytes or cdc_source.max_retained_bytes
    figures = slot_figures(cdc_source, slot)
    if figures is None:
        return AssetCheckResult(
            passed=False,
            metadata={"slot": slot},
            description=f"replication slot {slot} does not exist: the connector has not started",
        )
    return AssetCheckResult(
        passed=figures.retained_wal_bytes <= limit,
        metadata={**figures.metadata(), "max_retained_bytes": limit},
        description=f"slot {slot} retains {figures.retained_wal_bytes} bytes of WAL (limit {limit})",
    )
