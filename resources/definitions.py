"""The resources every asset and job is given, configured from the environment."""
from __future__ import annotations

from dataclasses import dataclass

from resources.bronze import BronzeSettings
from resources.flink import FlinkResource
from resources.kafka import KafkaResource
from resources.models import ModelSettings
from resources.object_store import ObjectStoreResource
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
            max_runs_per_tick=int(setting("BRONZE_MAX_RUNS_PER_TICK")),
            max_runs_in_flight=int(setting("BRONZE_MAX_RUNS_IN_FLIGHT")),
            lag_alert_records=int(setting("BRONZE_LAG_ALERT_RECORDS")),
            stale_run_seconds=int(setting("BRONZE_STALE_RUN_SECONDS")),
            retry_backoff_seconds=float(setting("BRONZE_RETRY_BACKOFF_SECONDS")),
            retry_max_backoff_seconds=float(setting("BRONZE_RETRY_MAX_BACKOFF_SECONDS")),
        ),
        "model_settings": ModelSettings(
            max_objects_per_batch=int(setting("MODELS_MAX_OBJECTS_PER_BATCH")),
            max_bytes_per_batch=int(setting("MODELS_MAX_BYTES_PER_BATCH")),
            max_batches_per_run=int(setting("MODELS_MAX_BATCHES_PER_RUN")),
            duckdb_memory_limit=setting("DUCKDB_MEMORY_LIMIT"),
            duckdb_temp_directory=setting("DUCKDB_TEMP_DIRECTORY"),
            max_out_of_orderness_seconds=float(setting("WINDOW_MAX_OUT_OF_ORDERNESS_SECONDS")),
            allowed_lateness_seconds=float(setting("WINDOW_ALLOWED_LATENESS_SECONDS")),
            max_future_seconds=float(setting("WINDOW_MAX_FUTURE_SECONDS")),
        ),
        "flink": FlinkResource(
            rest_url=setting("FLINK_REST_URL"), sql_gateway_url=setting("FLINK_SQL_GATEWAY_URL")
        ),
        "superset": SupersetResource(
            url=setting("SUPERSET_URL"),
            username=setting("SUPERSET_ADMIN_USER"),
            password=resource_value("SUPERSET_ADMIN_PASSWORD"),
            database_uri=resource_value("SUPERSET_DATABASE_URI" if setting("SUPERSET_DATABASE_URI") else "PG_URL"),
        ),
    }


@dataclass(frozen=True)
class Timing:
    """Settings fixed when the definitions load (a sensor's interval, a schedule's cron), not per run."""

    bronze_sensor_interval_s: int
    models_cron: str


def timing() -> Timing:
    """The load-time settings, from the environment (defaults in .env.example)."""
    return Timing(int(setting("BRONZE_SENSOR_INTERVAL_SECONDS")), setting("MODELS_SCHEDULE_CRON"))
