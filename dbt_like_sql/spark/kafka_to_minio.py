"""Kafka → s3a://<bucket>/bronze/spark/<topic>/: the lab's bronze stream, as a Spark micro-batch query.

Each micro-batch checks its records with the bronze path's rules and writes the bronze path's lines (the payload's
JSON with `processed_at` and `_kafka`), one object per batch under `batch=<id>/`; bad records go, with their reason
and exact bytes, to bronze/spark_quarantine/<topic>/batch=<id>/. A batch is written with `overwrite` to a path named
by its id: Spark replays an unfinished batch with the same id and the same offsets after a failure or a restart, so
it replaces what the first attempt left and every record lands once (the offsets are in the checkpoint, on the
object store).
"""

from __future__ import annotations

from datetime import UTC, datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming import StreamingQuery

from dbt_like_sql.spark import Query, kafka_source


def start(spark: SparkSession, query: Query) -> StreamingQuery:
    """Start the query; it runs until stopped."""
    sinks = {
        False: f"s3a://{query.bucket}/bronze/spark/{query.topic}",
        True: f"s3a://{query.bucket}/bronze/spark_quarantine/{query.topic}",
    }
    check = query.check_partition

    def land(batch: DataFrame, batch_id: int) -> None:
        processed_at = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        lines = spark.createDataFrame(
            batch.rdd.mapPartitions(lambda rows: check(processed_at, rows)), "quarantined boolean, line string"
        ).persist()
        try:
            kinds = {row.quarantined for row in lines.select("quarantined").distinct().collect()}
            for quarantined in kinds:
                (
                    lines.where(lines.quarantined == quarantined)
                    .select("line")
                    .coalesce(1)
                    .write.mode("overwrite")
                    .text(f"{sinks[quarantined]}/batch={batch_id:012d}")
                )
        finally:
            lines.unpersist()

    return (
        kafka_source(spark, query)
        .writeStream.queryName(query.name)
        .foreachBatch(land)
        .option("checkpointLocation", query.checkpoint)
        .trigger(processingTime=query.trigger_interval)
        .start()
    )
