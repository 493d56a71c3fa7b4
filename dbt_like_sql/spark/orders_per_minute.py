"""The gold model app.orders_per_minute as a Spark query: 1-minute event-time windows → app.orders_per_minute_spark.

Records are checked with the bronze path's rules (bad ones are left out: kafka_to_minio quarantines them); the event
time is `created_at` as the check reads it. `withWatermark` holds back the windows until the watermark (the largest
event time seen, minus the delay) passes their end; a redelivered event (same event_id and event time) is counted
once while its window is open (dropDuplicates with the event time, so its state goes with the watermark). Append
mode: each window is written once, final. The sink upserts the windows of a batch in one Postgres transaction
that also records the batch id, so a batch Spark replays is not applied twice.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery

from dbt_like_sql.spark import Query, kafka_source

ORDER = "event_id string, status string, amount decimal(14,2)"
STATUSES = ("created", "paid", "shipped", "cancelled")


def start(spark: SparkSession, query: Query) -> StreamingQuery:
    """Start the query; it runs until stopped."""
    check = F.udf(query.check_order, "reason string, event_time timestamp")
    write = query.write_windows
    source = kafka_source(spark, query)
    orders = (
        source.select(
            check("partition", "offset", "timestamp_ms", "key", "value").alias("checked"),
            F.from_json(F.col("value").cast("string"), ORDER).alias("order"),
        )
        .where("checked.reason IS NULL")
        .select(F.col("checked.event_time").alias("event_time"), "order.*")
    )
    windows = (
        orders.withWatermark("event_time", f"{query.watermark_delay_seconds} seconds")
        .dropDuplicates(["event_id", "event_time"])
        .groupBy(F.window("event_time", "1 minute"))
        .agg(
            F.count(F.lit(1)).alias("orders"),
            F.sum("amount").cast("decimal(18,2)").alias("revenue"),
            *(F.count_if(F.col("status") == status).alias(status) for status in STATUSES),
        )
        .select(
            F.col("window.start").alias("window_start"),
            F.col("window.end").alias("window_end"),
            "orders",
            "revenue",
            *STATUSES,
        )
    )

    def upsert(batch: DataFrame, batch_id: int) -> None:
        write(batch.collect(), batch_id)

    return (
        windows.writeStream.queryName(query.name)
        .outputMode("append")
        .foreachBatch(upsert)
        .option("checkpointLocation", query.checkpoint)
        .trigger(processingTime=query.trigger_interval)
        .start()
    )
