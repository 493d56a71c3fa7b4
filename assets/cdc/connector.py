"""The Debezium PostgreSQL connector of the application database, as code: its settings and the config Connect
gets. docs/cdc.md explains each choice."""

from __future__ import annotations

import re

from dagster import AssetKey, Config

from resources.cdc_source import CdcSourceResource

CONNECTOR_CLASS = "io.debezium.connector.postgresql.PostgresConnector"
ASSET_KEY = AssetKey(["cdc", "shop_orders_connector"])
DEFAULT_NAME = "shop-orders"
JSON_CONVERTER = "org.apache.kafka.connect.json.JsonConverter"
# ${provider:[path:]key}: a reference the worker's config provider resolves (infra/stack/services/connect.py).
_PROVIDER_REFERENCE = re.compile(r"^\$\{[A-Za-z0-9_]+:[^}]+\}$")


class CdcConnectorConfig(Config):
    """The connector to register. Defaults: the application database's app.orders on topic dbserver1.app.orders."""

    connector_name: str = DEFAULT_NAME
    topic_prefix: str = "dbserver1"  # topics are <prefix>.<schema>.<table>
    table: str = "app.orders"
    publication: str = "cdc_shop_orders"  # created with the database (infra/app.py): Debezium never creates one
    slot: str = "cdc_shop_orders"
    # Where the worker finds the CDC role's password: a config-provider reference, never the password itself.
    password_reference: str = "${env:CDC_PG_PASSWORD}"
    snapshot_mode: str = "initial"  # rows that exist when the connector first starts arrive as op = r
    topic_partitions: int = 1  # one partition: the topic's order is the commit (LSN) order
    heartbeat_interval_ms: int = 10_000  # lets the slot advance while the captured table is quiet
    # Retries of a retriable error while streaming (the connection lost), 10 s apart, before the task FAILS rather
    # than retry forever (Debezium's default, -1) while Connect shows it RUNNING. A start that keeps failing (a
    # login refused) is retried forever whatever this says: the sensor reports it by its unread slot.
    max_retries: int = 10
    wait_seconds: float = 120.0  # for the connector and its task to run

    def topic(self) -> str:
        """The change topic of the table."""
        return f"{self.topic_prefix}.{self.table}"


def connector_config(config: CdcConnectorConfig, source: CdcSourceResource) -> dict[str, str]:
    """The config PUT to /connectors/<name>/config; ValueError when the password is not a provider reference."""
    if not _PROVIDER_REFERENCE.match(config.password_reference):
        raise ValueError(
            "password_reference must be a config-provider reference such as ${env:CDC_PG_PASSWORD}, "
            "never the password itself (Connect stores connector configs in a Kafka topic)"
        )
    return {
        "connector.class": CONNECTOR_CLASS,
        "tasks.max": "1",
        "plugin.name": "pgoutput",
        "database.hostname": source.host,
        "database.port": str(source.port),
        "database.dbname": source.dbname,
        "database.user": source.user,
        "database.password": config.password_reference,
        "topic.prefix": config.topic_prefix,
        "table.include.list": config.table,
        "publication.name": config.publication,
        "publication.autocreate.mode": "disabled",
        "slot.name": config.slot,
        "snapshot.mode": config.snapshot_mode,
        # numeric(12,2) as an exact decimal string ("12.50"): Debezium's default is base64 bytes without a
        # schema to decode them, and double would round.
        "decimal.handling.mode": "string",
        "tombstones.on.delete": "true",
        "errors.max.retries": str(config.max_retries),
        "heartbeat.interval.ms": str(config.heartbeat_interval_ms),
        "key.converter": JSON_CONVERTER,
        "key.converter.schemas.enable": "false",
        "value.converter": JSON_CONVERTER,
        "value.converter.schemas.enable": "false",
        # The broker never creates topics on the fly: the worker creates the change and heartbeat topics.
        "topic.creation.default.replication.factor": "1",
        "topic.creation.default.partitions": str(config.topic_partitions),
    }
