-- The gold model app.orders_per_minute computed by Flink: tumbling 1-minute event-time windows of
-- valid order events, written to Postgres (app.orders_per_minute_flink) through the JDBC connector.
-- A window is emitted once the watermark (max event time - 5 s) passes its end; later events are
-- dropped by Flink (the DuckDB model counts them within its allowed lateness: docs/flink.md).
{% include '_kafka_source.sql' %}

CREATE TEMPORARY TABLE orders_per_minute_sink (
  `window_start` TIMESTAMP(3),
  `window_end`   TIMESTAMP(3),
  `orders`       BIGINT,
  `revenue`      DECIMAL(18, 2),
  `created`      BIGINT,
  `paid`         BIGINT,
  `shipped`      BIGINT,
  `cancelled`    BIGINT,
  PRIMARY KEY (`window_start`) NOT ENFORCED
) WITH (
  'connector' = 'jdbc',
  -- The URL names the user; the TaskManagers' Postgres driver reads the password from their pgpass file
  -- (PGPASSFILE), so no password is in this SQL (docs/flink.md).
  'url' = {{ jdbc_url | literal }},
  'table-name' = {{ jdbc_table | literal }},
  'sink.buffer-flush.interval' = '1s'
);

-- One row per event: a redelivered event (same event_id) counts once, as in silver.
CREATE TEMPORARY VIEW order_events AS
SELECT `event_id`, `status`, `amount`, `event_time`
FROM (
  SELECT
    `event_id`, `status`, `amount`, `event_time`,
    ROW_NUMBER() OVER (PARTITION BY window_start, window_end, `event_id` ORDER BY `event_time`) AS `seen`
  FROM TABLE(TUMBLE(TABLE checked_source, DESCRIPTOR(`event_time`), INTERVAL '1' MINUTE))
  WHERE `reason` IS NULL
)
WHERE `seen` = 1;

INSERT INTO orders_per_minute_sink
SELECT
  CAST(window_start AS TIMESTAMP(3)),
  CAST(window_end AS TIMESTAMP(3)),
  COUNT(DISTINCT `event_id`),
  SUM(CAST(`amount` AS DECIMAL(18, 2))),
  COUNT(*) FILTER (WHERE `status` = 'created'),
  COUNT(*) FILTER (WHERE `status` = 'paid'),
  COUNT(*) FILTER (WHERE `status` = 'shipped'),
  COUNT(*) FILTER (WHERE `status` = 'cancelled')
FROM TABLE(TUMBLE(TABLE order_events, DESCRIPTOR(`event_time`), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end;
