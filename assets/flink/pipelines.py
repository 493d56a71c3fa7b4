"""The two Flink SQL pipelines, their configuration, and the values their SQL is rendered with."""

from __future__ import annotations

import json
import re
import typing
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import quote, unquote, urlsplit

import msgspec
from dagster import AssetKey, Config

from assets.bronze.schemas import EARLIEST, LATEST, SCHEMAS, TIMESTAMP_GRAMMAR
from assets.bronze.topics import TopicSpec, configured_topics
from resources.flink import FlinkResource


@dataclass(frozen=True)
class Pipeline:
    """One Flink SQL file of dbt_like_sql/flink/ run as a long-lived Flink job."""

    name: str  # kafka_to_minio | orders_per_minute: the file name and the default job name's middle
    asset_key: AssetKey
    needs_schema: str | None  # the topic schema the SQL reads fields of, if any


KAFKA_TO_MINIO = Pipeline("kafka_to_minio", AssetKey(["bronze", "flink"]), None)  # keys name where data lives
ORDERS_PER_MINUTE = Pipeline("orders_per_minute", AssetKey(["app", "orders_per_minute_flink"]), "orders")
PIPELINES = {p.name: p for p in (KAFKA_TO_MINIO, ORDERS_PER_MINUTE)}
JDBC_TABLE = "app.orders_per_minute_flink"


class FlinkPipelineConfig(Config):
    """What a Flink pipeline reads, how it is run, and under which name. Empty fields take the `flink` resource's
    values (FLINK_TOPIC, FLINK_CHECKPOINT_INTERVAL, FLINK_PARALLELISM): see `resolved`."""

    topic: str = ""
    job_name: str = ""  # default: lakehouse-<pipeline>-<topic>
    checkpoint_interval: str = ""
    parallelism: int = 0
    watermark_delay_seconds: int = 5
    wait_seconds: float = 180.0  # for RUNNING and a first completed checkpoint

    def resolved(self, flink: FlinkResource) -> FlinkPipelineConfig:
        """This config with its empty fields taken from the resource: what a run actually uses."""
        return self.model_copy(
            update={
                "topic": self.topic or flink.topic,
                "checkpoint_interval": self.checkpoint_interval or flink.checkpoint_interval,
                "parallelism": self.parallelism or flink.parallelism,
            }
        )

    def job_name_for(self, pipeline: Pipeline) -> str:
        """The Flink job name: the identity that makes a second submission report the running job."""
        if not self.topic:
            raise ValueError("resolve the pipeline config against the flink resource first (config.resolved)")
        return self.job_name or f"lakehouse-{pipeline.name}-{self.topic}"


def topic_spec(topic: str) -> TopicSpec:
    """The topic's format and schema from BRONZE_TOPICS; a topic not listed there is read as JSON without schema."""
    return next((spec for spec in configured_topics() if spec.topic == topic), TopicSpec(topic, "json", None))


def jdbc_settings(pg_url: str) -> dict[str, str]:
    """The JDBC URL (with the user, without the password) and table of a postgresql:// URL: the Flink JDBC sink's
    options. The password never enters the SQL: the TaskManagers' Postgres driver reads it from their pgpass file
    (PGPASSFILE; `lakehouse up --with flink` writes it from PG_URL, mode 0600), so it cannot appear in the
    statements Dagster records, in Flink's messages that echo them, or in Flink's job plans."""
    parts = urlsplit(pg_url)
    if parts.scheme not in ("postgresql", "postgres") or not parts.hostname or not parts.path.strip("/"):
        raise ValueError(f"PG_URL must look like postgresql://user:password@host:port/database, got {parts.scheme}://…")
    user = quote(unquote(parts.username or ""), safe="")
    return {
        "jdbc_url": f"jdbc:postgresql://{parts.hostname}:{parts.port or 5432}/{parts.path.strip('/')}"
        + (f"?user={user}" if user else ""),
        "jdbc_table": JDBC_TABLE,
    }


# msgspec constraints the Flink functions check (infra/flink/udf/.../Schema.java); any other one fails rendering.
CHECKED_CONSTRAINTS = ("pattern", "ge", "le", "min_length", "max_length")
DESCRIPTIVE = ("description", "title", "examples", "extra_json_schema", "extra")


def _field_check(field: msgspec.structs.FieldInfo) -> dict[str, object]:
    """One field of a bronze schema as the Flink functions check it."""
    base, *metas = typing.get_args(field.type) if typing.get_origin(field.type) is typing.Annotated else (field.type,)
    members = set(typing.get_args(base)) or {base}
    kinds = members - {type(None), msgspec.UnsetType}  # UNSET: absent, which `required` says
    if kinds not in ({str}, {float}):
        raise ValueError(f"the Flink functions check str and float fields only; {field.encode_name} is {base}")
    check: dict[str, object] = {
        "name": field.encode_name,
        "type": "string" if kinds == {str} else "number",
        "required": field.required,
        "nullable": type(None) in members,
        "words": "",
    }
    for meta in metas:
        for attribute in (a for a in dir(meta) if not a.startswith("_")):
            value = getattr(meta, attribute)
            if value is None or attribute in DESCRIPTIVE:
                continue
            if attribute in CHECKED_CONSTRAINTS:
                check[attribute] = java_regex(value) if attribute == "pattern" else value
            else:
                raise ValueError(
                    f"the Flink functions do not check {attribute}={value!r} of field "
                    f"{field.encode_name}: add it to infra/flink/udf/.../Schema.java and here"
                )
        check["words"] = meta.description or check["words"]
    check["words"] = check["words"] or ("a string" if kinds == {str} else "a number")
    return check


def java_regex(pattern: str) -> str:
    """A Python regex (ASCII digits, re.search semantics) as Java reads it: \\Z is Java's \\z."""
    if "(?P" in pattern or pattern.endswith("$"):
        raise ValueError(f"the Flink functions cannot check the Python-only regex {pattern!r}")
    return pattern.replace(r"\Z", r"\z")


def _epoch_micros(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=timezone.utc)) // datetime.resolution


def schema_checks(name: str) -> str:
    """Bronze schema `name` (assets/bronze/schemas.py) as the JSON spec the Flink functions check payloads with:
    the rules stay in one place, and a rule the functions cannot check fails here, before anything is sent."""
    schema = SCHEMAS[name]
    fields = [_field_check(f) for f in msgspec.structs.fields(schema.struct) if f.name not in ("processed_at", "kafka")]
    return json.dumps(
        {
            "name": name,
            "event_time": schema.event_time,
            "fields": fields,
            "event_time_pattern": "^" + java_regex(TIMESTAMP_GRAMMAR.pattern),
            "earliest_us": _epoch_micros(EARLIEST),
            "latest_us": _epoch_micros(LATEST),
        }
    )


def sql_values(
    pipeline: Pipeline,
    config: FlinkPipelineConfig,
    flink: FlinkResource,
    bootstrap_servers: str,
    bucket: str,
    pg_url: str,
) -> dict[str, object]:
    """Everything dbt_like_sql/flink/<pipeline>.sql is rendered with."""
    config = config.resolved(flink)
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
        "max_message_bytes": flink.max_message_bytes,
        "rollover_interval": config.checkpoint_interval,  # a file is closed after one interval, committed by the next
        "udf_jar": flink.udf_jar,
    }
    if spec.schema:
        values["schema_checks"] = schema_checks(spec.schema)
        # The aggregate reads the event's fields; kafka_to_minio writes the payload itself and needs only its checks.
        values["order_function"] = "lakehouse_order" if pipeline is ORDERS_PER_MINUTE else "lakehouse_order_validity"
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
        # Chained operators hand rows on without a deep copy each (the source feeds two sinks).
        "pipeline.object-reuse": "true",
        "table.local-time-zone": "UTC",
        # A partition without new records must not hold every window open.
        "table.exec.source.idle-timeout": "30 s",
    }
