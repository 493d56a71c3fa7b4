"""The resources every asset and job is given, configured from the environment."""

from __future__ import annotations

from dataclasses import dataclass

from psycopg.conninfo import conninfo_to_dict

from resources.bronze import BronzeSettings
from resources.cdc_source import CdcSourceResource
from resources.duckdb import DuckDBResource
from resources.flink import FlinkResource
from resources.kafka import KafkaResource
from resources.kafka_connect import KafkaConnectResource
from resources.models import ModelSettings
from resources.object_store import ObjectStoreResource
from resources.operations import AlertWebhook, FreshnessSettings, HousekeepingSettings
from resources.postgres import PostgresResource
from resources.settings import resource_value, setting
from resources.superset import SupersetResource


def platform_resources() -> dict[str, object]:
    """Resource instances keyed by the names assets ask for."""
    return {
        "kafka": KafkaResource(bootstrap_servers=setting("KAFKA_BOOTSTRAP_SERVERS")),
        "object_store": ObjectStoreResource(
            endpoint=setting("S3_ENDPOINT"),
            access_key=setting("S3_ACCESS_KEY"),
            secret_key=resource_value("S3_SECRET_KEY"),
            bucket=setting("S3_BUCKET"),
            region=setting("S3_REGION"),
        ),
        "postgres": PostgresResource(url=resource_value("PG_URL")),
        "bronze_settings": BronzeSettings(
            max_records=int(setting("BRONZE_MAX_RECORDS")),
            max_bytes=int(setting("BRONZE_MAX_BYTES")),
            max_message_bytes=int(setting("BRONZE_MAX_MESSAGE_BYTES")),
            sensor_wait_seconds=float(setting("BRONZE_SENSOR_WAIT_SECONDS")),
            max_runs_per_tick=int(setting("BRONZE_MAX_RUNS_PER_TICK")),
            max_runs_in_flight=int(setting("BRONZE_MAX_RUNS_IN_FLIGHT")),
            lag_alert_records=int(setting("BRONZE_LAG_ALERT_RECORDS")),
            stale_run_seconds=int(setting("BRONZE_STALE_RUN_SECONDS")),
            retry_backoff_seconds=float(setting("BRONZE_RETRY_BACKOFF_SECONDS")),
            retry_max_backoff_seconds=float(setting("BRONZE_RETRY_MAX_BACKOFF_SECONDS")),
        ),
        "duckdb": DuckDBResource(
            memory_limit=setting("DUCKDB_MEMORY_LIMIT"), temp_directory=setting("DUCKDB_TEMP_DIRECTORY")
        ),
        "model_settings": ModelSettings(
            max_objects_per_batch=int(setting("MODELS_MAX_OBJECTS_PER_BATCH")),
            max_bytes_per_batch=int(setting("MODELS_MAX_BYTES_PER_BATCH")),
            max_records_per_batch=int(setting("MODELS_MAX_RECORDS_PER_BATCH")),
            max_batches_per_run=int(setting("MODELS_MAX_BATCHES_PER_RUN")),
            max_out_of_orderness_seconds=float(setting("WINDOW_MAX_OUT_OF_ORDERNESS_SECONDS")),
            allowed_lateness_seconds=float(setting("WINDOW_ALLOWED_LATENESS_SECONDS")),
            max_future_seconds=float(setting("WINDOW_MAX_FUTURE_SECONDS")),
        ),
        "flink": FlinkResource(
            rest_url=setting("FLINK_REST_URL"),
            sql_gateway_url=setting("FLINK_SQL_GATEWAY_URL"),
            topic=setting("FLINK_TOPIC"),
            checkpoint_interval=setting("FLINK_CHECKPOINT_INTERVAL"),
            parallelism=int(setting("FLINK_PARALLELISM")),
            udf_jar=setting("FLINK_UDF_JAR"),
            max_message_bytes=int(setting("BRONZE_MAX_MESSAGE_BYTES")),
        ),
        "superset": SupersetResource(
            url=setting("SUPERSET_URL"),
            username=setting("SUPERSET_ADMIN_USER"),
            password=resource_value("SUPERSET_ADMIN_PASSWORD"),
            database_uri=resource_value("SUPERSET_DATABASE_URI" if setting("SUPERSET_DATABASE_URI") else "PG_URL"),
        ),
    }


def operations_resources() -> dict[str, object]:
    """The settings resources of the platform's upkeep (docs/operations.md)."""
    return {
        "housekeeping_settings": HousekeepingSettings(
            history_days=float(setting("HOUSEKEEPING_HISTORY_DAYS")),
            staging_max_age_minutes=float(setting("HOUSEKEEPING_STAGING_MAX_AGE_MINUTES")),
            log_dir=setting("HOUSEKEEPING_LOG_DIR"),
            log_max_bytes=int(setting("HOUSEKEEPING_LOG_MAX_BYTES")),
            log_keep=int(setting("HOUSEKEEPING_LOG_KEEP")),
        ),
        "freshness_settings": FreshnessSettings(
            bronze_seconds=float(setting("FRESHNESS_BRONZE_SECONDS")),
            models_seconds=float(setting("FRESHNESS_MODELS_SECONDS")),
        ),
        "alert_webhook": AlertWebhook(url=resource_value("ALERT_WEBHOOK_URL"), ui_url=setting("DAGSTER_UI_URL")),
    }


def cdc_resources() -> dict[str, object]:
    """Kafka Connect (CONNECT_URL) and the application database as the CDC role (PG_URL's server,
    SHOP_DATABASE, CDC_PG_USER, CDC_PG_PASSWORD)."""
    server = conninfo_to_dict(setting("PG_URL"))
    return {
        "kafka_connect": KafkaConnectResource(url=setting("CONNECT_URL")),
        "cdc_source": CdcSourceResource(
            host=str(server.get("host") or "127.0.0.1"),
            port=int(server.get("port") or 5432),
            dbname=setting("SHOP_DATABASE"),
            user=setting("CDC_PG_USER"),
            password=resource_value("CDC_PG_PASSWORD"),
            max_retained_bytes=int(setting("CDC_SLOT_MAX_RETAINED_BYTES")),
        ),
    }


@dataclass(frozen=True)
class LoadSettings:
    """Settings fixed when the definitions load, not per run: they shape the graph (which topics have a bronze
    asset) or a sensor's interval and a schedule's cron."""

    bronze_topics: str
    bronze_sensor_interval_s: int
    models_cron: str
    flink_topic: str  # the Kafka topics the Flink and Spark assets are drawn downstream of (a run may read another)
    spark_topic: str


def load_settings() -> LoadSettings:
    """The load-time settings, from the environment (defaults in .env.example)."""
    return LoadSettings(
        setting("BRONZE_TOPICS"),
        int(setting("BRONZE_SENSOR_INTERVAL_SECONDS")),
        setting("MODELS_SCHEDULE_CRON"),
        setting("FLINK_TOPIC"),
        setting("SPARK_TOPIC"),
    )
