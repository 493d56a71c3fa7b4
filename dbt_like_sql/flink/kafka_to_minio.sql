-- Lab 1 as Flink SQL: Kafka -> processing (adds processed_at) -> the object store, as JSON lines
-- partitioned by event date and hour. Files are committed when the checkpoint that covers them
-- completes, so what is visible under the sink path holds each record exactly once (docs/flink.md).
{% include '_kafka_source.sql' %}

CREATE TEMPORARY TABLE bronze_sink (
{%- if schema == 'orders' %}
  `event_id`        STRING,
  `order_id`        STRING,
  `customer_id`     STRING,
  `status`          STRING,
  `amount`          DOUBLE,
  `currency`        STRING,
  `created_at`      STRING,
{%- else %}
  `payload`         STRING,
{%- endif %}
  `event_time`      TIMESTAMP_LTZ(3),
  `kafka_partition` INT,
  `kafka_offset`    BIGINT,
  `kafka_timestamp` TIMESTAMP_LTZ(3),
  `processed_at`    TIMESTAMP_LTZ(3),
  `dt`              STRING,
  `hour`            STRING
) PARTITIONED BY (`dt`, `hour`) WITH (
  'connector' = 'filesystem',
  'path' = {{ sink_path | literal }},
  'format' = 'json',
  -- Roll on every checkpoint and merge what one checkpoint wrote into few files: new records are
  -- visible one checkpoint interval after they arrive, and never before that checkpoint completes.
  'auto-compaction' = 'true',
  'compaction.file-size' = '128MB',
  'sink.partition-commit.trigger' = 'process-time',
  'sink.partition-commit.delay' = '0 s',
  'sink.partition-commit.policy.kind' = 'success-file'
);

-- Records that cannot be used: the raw payload, where it came from and why.
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
  'auto-compaction' = 'true'
);

EXECUTE STATEMENT SET BEGIN
INSERT INTO bronze_sink
SELECT
{%- if schema == 'orders' %}
  `event_id`, `order_id`, `customer_id`, `status`, `amount`, `currency`, `created_at`,
{%- else %}
  CAST(`payload` AS STRING),
{%- endif %}
  `event_time`, `kafka_partition`, `kafka_offset`, `kafka_timestamp`,
  CAST(CURRENT_TIMESTAMP AS TIMESTAMP_LTZ(3)),
  DATE_FORMAT(`event_time`, 'yyyy-MM-dd'),
  DATE_FORMAT(`event_time`, 'HH')
FROM checked_source
WHERE `reason` IS NULL;
INSERT INTO quarantine_sink
SELECT CAST(`payload` AS STRING), lakehouse_base64(`payload`), `reason`,
       `kafka_partition`, `kafka_offset`, `kafka_timestamp`, CAST(CURRENT_TIMESTAMP AS TIMESTAMP_LTZ(3))
FROM checked_source
WHERE `reason` IS NOT NULL;
END;
