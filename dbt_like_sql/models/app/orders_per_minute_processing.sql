{{ config(materialized='windowed', target='postgres', unique_key='window_start',
          time_column='processed_at', window_seconds=60, additive=true,
          event_key='event_id', entity_key='order_id', late_table='app.late_events') }}
-- Tumbling 1-minute windows by processing time. Nothing is late on this clock: each batch's new
-- (already deduplicated) events are added to their windows in the same transaction that records
-- the batch, so every event counts exactly once.
SELECT
    window_start,
    window_start + INTERVAL 1 MINUTE    AS window_end,
    count(DISTINCT event_id)            AS orders,
    CAST(sum(amount) AS DECIMAL(18, 2)) AS revenue
FROM {{ ref('silver_orders') }}
GROUP BY window_start
