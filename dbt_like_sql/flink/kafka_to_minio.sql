-- Lab 1 as Flink SQL: Kafka -> processing (adds processed_at) -> the object store, as JSON lines
-- partitioned by event date and hour. Files are committed when the checkpoint that covers them
-- completes, so what is visible under the sink path holds each record exactly once (docs/flink.md).
{% include '_kafka_source.sql' %}

-- Each line is the bronze path's line (assets/bronze/transform.py): the payload's own JSON with
-- processed_at and _kafka (topic, partition, offset, timestamp, key) spliced in, built by
-- lakehouse_bronze_line; the sink writes it as it is.
CREATE TEMPORARY TABLE bronze_sink (
  `line`            BYTES,
  `dt`              STRING,
  `hour`            STRING
) PARTITIONED BY (`dt`, `hour`) WITH (
  'connector' = 'filesystem',
  'path' = {{ sink_path | literal }},
  'format' = 'raw',
  -- Close each file once it is one checkpoint interval old (looked at every second); the next checkpoint
  -- commits it. New records are visible within about two intervals, never before their checkpoint
  -- completes, and every byte is written once (auto-compaction would read each file back and write it
  -- again: it cost about 40% of the throughput, docs/flink.md).
  'sink.rolling-policy.rollover-interval' = {{ rollover_interval | literal }},
  'sink.rolling-policy.check-interval' = '1 s',
  'sink.partition-commit.trigger' = 'process-time',
  'sink.partition-commit.delay' = '0 s',
  'sink.partition-commit.policy.kind' = 'success-file'
);

-- Records that cannot be used: the payload (as text, and its exact bytes), where it came from and why.
CREATE TEMPORARY TABLE quarantine_sink (
  `payload`         STRING,  -- the value as UTF-8 text (undecodable bytes replaced)
  `payload_base64`  STRING,  -- the exact bytes
  `reason`          STRING,
  `kafka_partition` INT,
  `kafka_offset`    BIGINT,
  `kafka_timestamp` TIMESTAMP_LTZ(3),
  `processed_at`    TIMESTAMP_LTZ(3)
) WITH (
  'connector' = 'filesystem',
  'path' = {{ quarantine_path | literal }},
  'format' = 'json',
  'sink.rolling-policy.rollover-interval' = {{ rollover_interval | literal }},
  'sink.rolling-policy.check-interval' = '1 s'
);

EXECUTE STATEMENT SET BEGIN
INSERT INTO bronze_sink
SELECT lakehouse_bronze_line(`payload`, {{ format | literal }}, {{ topic | literal }}, `kafka_partition`,
                             `kafka_offset`, `kafka_timestamp`, `kafka_key`),
       `dt`, `hour`
FROM checked_source
WHERE `reason` IS NULL;
INSERT INTO quarantine_sink
SELECT CAST(`payload` AS STRING), lakehouse_base64(`payload`), `reason`,
       `kafka_partition`, `kafka_offset`, `kafka_timestamp`, CAST(CURRENT_TIMESTAMP AS TIMESTAMP_LTZ(3))
FROM checked_source
WHERE `reason` IS NOT NULL;
END;
