"""The platform's settings: one environment variable each, with the documented default (see .env.example).

The defaults point at the local stack (`lakehouse up`), so everything works with nothing set.
Credentials default to development-only values; set the variables in any shared deployment.
"""

from __future__ import annotations

import os

from dagster import EnvVar

DEFAULTS: dict[str, str] = {
    "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092",
    "KAFKA_CONTROLLER_PORT": "9093",  # the local stack's KRaft controller listener
    "S3_ENDPOINT": "http://127.0.0.1:9000",
    "S3_ACCESS_KEY": "minioadmin",  # development only
    "S3_SECRET_KEY": "minioadmin",  # development only
    "S3_BUCKET": "lakehouse",
    "S3_REGION": "us-east-1",
    "S3_CONSOLE_PORT": "9001",  # the local stack's MinIO web console
    "PG_URL": "postgresql://de_user:de_pass@127.0.0.1:5432/de_db",  # development only
    "FLINK_REST_URL": "http://127.0.0.1:8081",
    "FLINK_SQL_GATEWAY_URL": "http://127.0.0.1:8083",
    # Flink SQL pipelines (docs/flink.md): the topic they read, checkpoint interval, parallelism.
    "FLINK_TOPIC": "orders",
    "FLINK_CHECKPOINT_INTERVAL": "10s",
    "FLINK_PARALLELISM": "1",
    "FLINK_UDF_JAR": "",  # empty: the platform's SQL functions are on the cluster's classpath (lib/)
    "FLINK_RPC_PORT": "6123",  # the local stack's JobManager RPC port
    # Spark Structured Streaming pipelines (lakehouse up --with spark; docs/spark.md)
    "SPARK_MASTER": "local[2]",  # the drivers' master URL: local threads, or a cluster (spark://host:7077)
    "SPARK_TOPIC": "orders",
    "SPARK_TRIGGER_INTERVAL": "5 seconds",  # a micro-batch starts this often (when the last one is done)
    "SPARK_SHUFFLE_PARTITIONS": "4",  # spark.sql.shuffle.partitions: the state's partitions (fixed by the checkpoint)
    "SPARK_DRIVER_MEMORY": "1g",
    "SPARK_UI_PORT": "",  # empty: no Spark UI (no port taken)
    # Superset (lakehouse up --with superset; docs/dashboard.md)
    "SUPERSET_URL": "http://127.0.0.1:8088",
    "SUPERSET_ADMIN_USER": "admin",  # development only
    "SUPERSET_ADMIN_PASSWORD": "admin",  # development only
    "SUPERSET_SECRET_KEY": "",  # empty: one is generated at install and kept under .lakehouse/data/superset
    "SUPERSET_DATABASE_URI": "",  # the "Postgres App" connection; empty: PG_URL
    # Bronze ingestion: "topic:format[:schema]" comma-separated; format is json or text.
    "BRONZE_TOPICS": "lab-events:text,orders:json:orders,dbserver1.app.orders:json:debezium",
    "BRONZE_MAX_RECORDS": "100000",  # per run
    "BRONZE_MAX_BYTES": "67108864",  # per run (64 MiB of Kafka payload)
    "BRONZE_MAX_MESSAGE_BYTES": "1048576",  # larger records are quarantined as oversized
    "BRONZE_SENSOR_INTERVAL_SECONDS": "1",
    "BRONZE_SENSOR_WAIT_SECONDS": "4",
    "BRONZE_MAX_RUNS_PER_TICK": "10",
    "BRONZE_MAX_RUNS_IN_FLIGHT": "8",  # queued or running runs per topic before the sensor waits
    "BRONZE_LAG_ALERT_RECORDS": "500000",  # the lag check fails above this many unread records
    "BRONZE_STALE_RUN_SECONDS": "300",  # a requested run never launched for this long is requested again
    "BRONZE_RETRY_BACKOFF_SECONDS": "10",  # a range whose run failed is requested again after this, doubling
    "BRONZE_RETRY_MAX_BACKOFF_SECONDS": "60",  # ... up to this
    # SQL models (docs/windows.md): bounded batches, DuckDB's memory (it spills beyond it), the safety-net schedule
    "MODELS_MAX_OBJECTS_PER_BATCH": "2000",
    "MODELS_MAX_BYTES_PER_BATCH": "536870912",
    "MODELS_MAX_RECORDS_PER_BATCH": "1000000",
    "MODELS_MAX_BATCHES_PER_RUN": "20",
    "MODELS_SCHEDULE_CRON": "*/5 * * * *",
    "DUCKDB_MEMORY_LIMIT": "2GB",
    "DUCKDB_TEMP_DIRECTORY": "",  # empty: <system temp>/lakehouse-duckdb
    # Event-time windows (docs/windows.md)
    "WINDOW_MAX_OUT_OF_ORDERNESS_SECONDS": "10",  # watermark = max event time - this
    "WINDOW_ALLOWED_LATENESS_SECONDS": "60",  # later than watermark - this: the event is late
    "WINDOW_MAX_FUTURE_SECONDS": "300",  # event times beyond now + this do not move the watermark further
    # Change data capture (docs/cdc.md): Kafka Connect's REST API, the application database, the CDC role.
    "CONNECT_URL": "http://127.0.0.1:8084",
    "SHOP_DATABASE": "shop",
    "CDC_PG_USER": "cdc_user",
    "CDC_PG_PASSWORD": "cdc_pass",  # development only
    "CDC_SLOT_MAX_RETAINED_BYTES": "1073741824",  # the slot check fails when the slot holds more WAL than this
    # Upkeep (docs/operations.md): the housekeeping job, freshness checks, failure alerts.
    "HOUSEKEEPING_HISTORY_DAYS": "7",  # runs, event logs, check results and run-less events older than this go
    "HOUSEKEEPING_STAGING_MAX_AGE_MINUTES": "60",  # a lakehouse_state.staging_* table seen this long is dropped
    "HOUSEKEEPING_LOG_DIR": ".lakehouse/logs",  # its *.log files are rotated (copy-truncate)
    "HOUSEKEEPING_LOG_MAX_BYTES": "67108864",  # ... when larger than this
    "HOUSEKEEPING_LOG_KEEP": "5",  # rotated copies kept per file
    "FRESHNESS_BRONZE_SECONDS": "120",  # Kafka records may wait this long for bronze
    "FRESHNESS_MODELS_SECONDS": "300",  # bronze data may wait this long for app.orders / app.orders_per_minute
    "ALERT_WEBHOOK_URL": "",  # failed runs are POSTed here as JSON; empty: the UI only
    "DAGSTER_UI_URL": "http://127.0.0.1:3000",  # used in alert links
}

SECRETS = frozenset(
    {
        "S3_SECRET_KEY",
        "PG_URL",
        "SUPERSET_ADMIN_PASSWORD",
        "SUPERSET_SECRET_KEY",
        "SUPERSET_DATABASE_URI",
        "CDC_PG_PASSWORD",
        "ALERT_WEBHOOK_URL",
    }
)


def setting(name: str) -> str:
    """The value of setting `name`: the environment's when set and non-empty, else the documented default."""
    value = os.environ.get(name, "")
    return value if value.strip() else DEFAULTS[name]


def resource_value(name: str) -> str | EnvVar:
    """A value for a Dagster resource field: an EnvVar for a secret that is set (so Dagster never
    shows it), otherwise the plain setting."""
    if name in SECRETS and os.environ.get(name, "").strip():
        return EnvVar(name)
    return setting(name)


def secret_values() -> list[str]:
    """The configured values of every secret setting: what redaction masks in text headed for Dagster."""
    return [setting(name) for name in SECRETS]
