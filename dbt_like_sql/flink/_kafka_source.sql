-- The Kafka source both Flink pipelines read (included by kafka_to_minio.sql and orders_per_minute.sql).
-- Payloads are read as raw text and parsed here, so a record that is not valid is routed to the
-- quarantine with its reason instead of failing the job or vanishing (docs/flink.md).
CREATE TEMPORARY TABLE kafka_source (
  `payload`         STRING,
  `kafka_partition` INT              METADATA FROM 'partition' VIRTUAL,
  `kafka_offset`    BIGINT           METADATA FROM 'offset' VIRTUAL,
  `kafka_timestamp` TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,
{%- if schema == 'orders' %}
  -- Event time: created_at, ISO-8601 with milli-, micro- or no fractional seconds (null when missing or unreadable).
  `event_time` AS COALESCE(
      TO_TIMESTAMP_LTZ(JSON_VALUE(`payload`, '$.created_at'), 'yyyy-MM-dd''T''HH:mm:ss.SSSXXX'),
      TO_TIMESTAMP_LTZ(JSON_VALUE(`payload`, '$.created_at'), 'yyyy-MM-dd''T''HH:mm:ss.SSSSSSXXX'),
      TO_TIMESTAMP_LTZ(JSON_VALUE(`payload`, '$.created_at'), 'yyyy-MM-dd''T''HH:mm:ssXXX')),
{%- else %}
  -- No declared schema: the broker's timestamp is the event time.
  `event_time` AS `kafka_timestamp`,
{%- endif %}
  WATERMARK FOR `event_time` AS `event_time` - INTERVAL {{ watermark_delay_seconds | literal }} SECOND
) WITH (
  'connector' = 'kafka',
  'topic' = {{ topic | literal }},
  'properties.bootstrap.servers' = {{ bootstrap_servers | literal }},
  'properties.group.id' = {{ group_id | literal }},
  'properties.auto.offset.reset' = 'earliest',
  'scan.startup.mode' = 'group-offsets',
  'format' = 'raw',
  'raw.charset' = 'UTF-8'
);

-- Every record with the reason it cannot be used (null when it can).
CREATE TEMPORARY VIEW checked_source AS
SELECT *,
{%- if schema == 'orders' %}
  CASE
    WHEN NOT (`payload` IS JSON OBJECT) THEN 'malformed JSON'
    {%- for field in ['event_id', 'order_id', 'status', 'amount', 'created_at'] %}
    WHEN JSON_VALUE(`payload`, {{ ('$.' ~ field) | literal }}) IS NULL THEN {{ ('missing field ' ~ field) | literal }}
    {%- endfor %}
    {%- for field in ['event_id', 'order_id', 'status', 'created_at'] %}
    WHEN JSON_QUERY(`payload`, {{ ('$.' ~ field) | literal }} WITH CONDITIONAL ARRAY WRAPPER) NOT LIKE '["%'
      THEN {{ ('field ' ~ field ~ ' must be a string') | literal }}
    {%- endfor %}
    WHEN JSON_QUERY(`payload`, '$.amount' WITH CONDITIONAL ARRAY WRAPPER) LIKE '["%'
      OR TRY_CAST(JSON_VALUE(`payload`, '$.amount') AS DOUBLE) IS NULL THEN 'field amount must be a number'
    WHEN `event_time` IS NULL THEN 'field created_at must be an ISO-8601 timestamp'
  END AS `reason`
{%- elif format == 'json' %}
  CASE WHEN NOT (`payload` IS JSON) THEN 'malformed JSON' END AS `reason`
{%- else %}
  CAST(NULL AS STRING) AS `reason`
{%- endif %}
FROM kafka_source;
