"""The two Flink SQL pipelines, their configuration, and the values their SQL is rendered with."""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from dagster import AssetKey, Config

from assets.bronze.topics import TopicSpec, configured_topics
from resources.settings import setting


@dataclass(frozen=True)
class Pipeline:
    """One Flink SQL file of dbt_like_sql/flink/ run as a long-lived Flink job."""

    name: str  # kafka_to_minio | orders_per_minute: the file name and the default job name's middle
    asset_key: AssetKey
    needs_schema: str | None  # the topic schema the SQL reads fields of, if any


KAFKA_TO_MINIO = Pipeline("kafka_to_minio", AssetKey("bronze_flink"), None)
ORDERS_PER_MINUTE = Pipeline("orders_per_minute", AssetKey("orders_per_minute_flink"), "orders")
PIPELINES = {p.name: p for p in (KAFKA_TO_MINIO, ORDERS_PER_MINUTE)}
JDBC_TABLE = "app.orders_per_minute_flink"


class FlinkPipelineConfig(Config):
    """What a Flink pipeline reads, how it is run, and under which name (defaults from the environment)."""

    topic: str = setting("FLINK_TOPIC")
    job_name: str = ""  # default: lakehouse-<pipeline>-<topic>
    checkpoint_interval: str = setting("FLINK_CHECKPOINT_INTERVAL")
    parallelism: int = int(setting("FLINK_PARALLELISM"))
    watermark_delay_seconds: int = 5
    wait_seconds: float = 180.0  # for RUNNING and a first completed checkpoint

    def job_name_for(self, pipeline: Pipeline) -> str:
        """The Flink job name: the identity that makes a second submission report the running job."""
        return self.job_name or f"lakehouse-{pipeline.name}-{self.topic}"


def topic_spec(topic: str) -> TopicSpec:
    """The topic's format and schema from BRONZE_TOPICS; a topic not listed there is read as JSON without schema."""
    return next((spec for spec in configured_topics() if spec.topic == topic), TopicSpec(topic, "json", None))


def jdbc_settings(pg_url: str) -> dict[str, str]:
    """The JDBC URL, user and password of a postgresql:// URL (the Flink JDBC sink's options)."""
    parts = urlsplit(pg_url)
    if parts.scheme not in ("postgresql", "postgres") or not parts.hostname or not parts.path.strip("/"):
        raise ValueError("PG_URL must look like postgresql://user:password@host:port/database, "
                         f"got {parts.scheme}://…")
    return {
        "jdbc_url": f"jdbc:postgresql://{parts.hostname}:{parts.port or 5432}/{parts.path.strip('/')}",
        "jdbc_user": unquote(parts.username or ""),
        "jdbc_password": unquote(parts.password or ""),
        "jdbc_table": JDBC_TABLE,
    }


def sql_values(pipeline: Pipeline, config: FlinkPipelineConfig, bootstrap_servers: str, bucket: str,
               pg_url: str) -> dict[str, object]:
    """Everything dbt_like_sql/flink/<pipeline>.sql is rendered with."""
    spec = topic_spec(config.topic)
    if pipeline.needs_schema and spec.schema != pipeline.needs_schema:
        raise ValueError(
            f"the Flink pipeline {pipeline.name} reads {pipeline.needs_schema} events, but topic {config.topic!r} "
            f"has schema {spec.schema!r} in BRONZE_TOPICS; choose a topic declared as "
            f"'<topic>:json:{pipeline.needs_schema}'"
        )
    safe_topic = re.sub(r"[^A-Za-z0-9._-]", "_", config.topic)
    values: dict[str, object] = {
        "topic": config.topic,
        "format": spec.fmt,
        "schema": spec.schema,
        "bootstrap_servers": bootstrap_servers,
        "group_id": f"lakehouse-flink-{config.job_name_for(pipeline)}",
        "watermark_delay_seconds": config.watermark_delay_seconds,
        "sink_path": f"s3://{bucket}/bronze/flink/{safe_topic}/",
        "quarantine_path": f"s3://{bucket}/bronze/flink_quarantine/{safe_topic}/",
    }
    if pipeline is ORDERS_PER_MINUTE:
        values.update(jdbc_settings(pg_url))
    return values


def session_properties(pipeline: Pipeline, config: FlinkPipelineConfig) -> dict[str, str]:
    """The SET options of the job's SQL Gateway session."""
    return {
        "pipeline.name": config.job_name_for(pipeline),
        "execution.checkpointing.interval": config.checkpoint_interval,
        "execution.checkpointing.mode": "EXACTLY_ONCE",
        "parallelism.default": str(config.parallelism),
        "table.local-time-zone": "UTC",
        # A partition without new records must not hold every window open.
        "table.exec.source.idle-timeout": "30 s",
    }
