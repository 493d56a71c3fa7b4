-- The Kafka source both Flink pipelines read (included by kafka_to_minio.sql and orders_per_minute.sql).
-- Payloads are read as raw bytes and checked by the bronze path's rules in the lakehouse functions
-- (infra/flink/udf/, parsed once per record), so a record that is not valid is routed to the quarantine
-- with its reason instead of failing the job or vanishing (docs/flink.md).
{% include '_functions.sql' %}

CREATE TEMPORARY TABLE kafka_source (
  `kafka_key`       BYTES,
  `payload`         BYTES,
  `kafka_partition` INT              METADATA FROM 'partition' VIRTUAL,
  `kafka_offset`    BIGINT           METADATA FROM 'offset' VIRTUAL,
  `kafka_timestamp` TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,
{%- if schema == 'orders' %}
  -- Event time: the instant of created_at (null when the record is not valid).
  `event_time` AS
    {{ order_function }}(`payload`, {{ schema_checks | literal }}, {{ max_message_bytes | int }}).event_time,
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
  'key.format' = 'raw',
  'key.fields' = 'kafka_key',
  'value.format' = 'raw',
  'value.fields-include' = 'EXCEPT_KEY'
);

-- Every record with the reason it cannot be used (null when it can), the partition of its event time and,
-- for the orders schema when the pipeline reads them (lakehouse_order), its fields. The function is called
-- once per field read; it remembers the last payload, so each record is parsed once.
CREATE TEMPORARY VIEW checked_source AS
SELECT `kafka_key`, `payload`, `kafka_partition`, `kafka_offset`, `kafka_timestamp`, `event_time`,
{%- if schema == 'orders' %}
  c.o.reason AS `reason`,
  {%- if order_function == 'lakehouse_order' %}
  c.o.event_id AS `event_id`, c.o.order_id AS `order_id`, c.o.customer_id AS `customer_id`,
  c.o.status AS `status`, c.o.amount AS `amount`, c.o.currency AS `currency`, c.o.created_at AS `created_at`,
  {%- endif %}
  c.o.dt AS `dt`, c.o.`hour` AS `hour`
FROM (SELECT *, {{ order_function }}(`payload`, {{ schema_checks | literal }}, {{ max_message_bytes | int }}) AS o
      FROM kafka_source) AS c;
{%- else %}
  lakehouse_payload_reason(`payload`, {{ format | literal }}, {{ max_message_bytes | int }}) AS `reason`,
  DATE_FORMAT(`event_time`, 'yyyy-MM-dd') AS `dt`, DATE_FORMAT(`event_time`, 'HH') AS `hour`
FROM kafka_source;
{%- endif %}
