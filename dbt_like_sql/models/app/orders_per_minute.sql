{{ config(materialized='windowed', target='postgres', unique_key='window_start',
          time_column='created_at', window_seconds=60,
          event_key='event_id', entity_key='order_id', late_table='app.late_events') }}
-- Tumbling 1-minute event-time windows of orders: distinct events, revenue and counts by status.
-- The runner hands this query the events of the windows a batch touched (late events excluded)
-- and adds is_final / updated_at from the watermark (docs/windows.md).
SELECT
    window_start,
    window_start + INTERVAL 1 MINUTE                    AS window_end,
    count(DISTINCT event_id)                            AS orders,
    CAST(sum(amount) AS DECIMAL(18, 2))                 AS revenue,
    count(*) FILTER (WHERE status = 'created')          AS created,
    count(*) FILTER (WHERE status = 'paid')             AS paid,
    count(*) FILTER (WHERE status = 'shipped')          AS shipped,
    count(*) FILTER (WHERE status = 'cancelled')        AS cancelled
FROM {{ ref('silver_orders') }}
GROUP BY window_start
