"""The Spark Structured Streaming queries (docs/spark.md), one module each, beside the Flink SQL of the same pipelines.

A module's `start(spark, query)` starts its streaming query and returns it. Everything a query needs from the
platform comes in `Query`: where it reads and writes, and the functions that hold the platform's rules (the bronze
checks of assets/bronze/transform.py, the Postgres upsert), so the rules stay in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from pyspark.sql import DataFrame, Row, SparkSession
from pyspark.sql import functions as F

# (processed_at, Kafka rows of one partition) -> (quarantined?, JSON line) per record, the bronze path's lines
CheckPartition = Callable[[str, Iterable[Row]], Iterator[tuple[bool, str]]]
# (partition, offset, timestamp ms, key, value) -> (reason or None, event time) of one order record
CheckOrder = Callable[[int, int, int | None, bytes | None, bytes | None], tuple]
# (rows of a micro-batch, batch id) -> None: writes them where they belong, once per batch id
WriteBatch = Callable[[list[Row], int], None]


@dataclass(frozen=True)
class Query:
    """One pipeline's query: its name, its source topic, its sink and checkpoint, and the platform's functions."""

    name: str  # the query's name; also names its checkpoint
    kafka_bootstrap: str
    topic: str
    bucket: str
    checkpoint: str  # s3a://<bucket>/spark/checkpoints/<name>
    trigger_interval: str  # "5 seconds"
    watermark_delay_seconds: int
    max_offsets_per_trigger: int  # 0: no limit
    check_partition: CheckPartition | None = None
    check_order: CheckOrder | None = None
    write_windows: WriteBatch | None = None


def kafka_source(spark: SparkSession, query: Query) -> DataFrame:
    """The topic from its earliest offsets (a new checkpoint) or where the checkpoint left off; the Kafka timestamp
    as epoch milliseconds (the bronze line's precision), key and value as bytes."""
    reader = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", query.kafka_bootstrap)
        .option("subscribe", query.topic)
        .option("startingOffsets", "earliest")
        .option("failOnDataLoss", "true")
    )
    if query.max_offsets_per_trigger:
        reader = reader.option("maxOffsetsPerTrigger", str(query.max_offsets_per_trigger))
    return reader.load().select("partition", "offset", F.unix_millis("timestamp").alias("timestamp_ms"), "key", "value")
