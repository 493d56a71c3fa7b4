"""Bronze: Kafka records landed in the object store, one object per partition per micro-batch.

What orchestration/ (and the other domains) may use is exported here; the modules behind it are the domain's own."""

from assets.bronze import ledger
from assets.bronze.assets import (
    CHECK_NO_GAPS,
    BronzeBatchConfig,
    bronze_asset_key,
    build_bronze_asset,
    kafka_topic_spec,
)
from assets.bronze.ranges import (
    Interval,
    Ranges,
    legacy_cursor,
    missing,
    plan_batches,
    read_topic_id,
    read_watermarks,
    run_key,
    wait_for_new_records,
)
from assets.bronze.topics import TopicSpec, configured_topics

__all__ = [
    "CHECK_NO_GAPS",
    "BronzeBatchConfig",
    "Interval",
    "Ranges",
    "TopicSpec",
    "bronze_asset_key",
    "build_bronze_asset",
    "configured_topics",
    "kafka_topic_spec",
    "ledger",
    "legacy_cursor",
    "missing",
    "plan_batches",
    "read_topic_id",
    "read_watermarks",
    "run_key",
    "wait_for_new_records",
]
