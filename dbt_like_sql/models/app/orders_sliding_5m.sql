{{ config(materialized='view', target='postgres') }}
-- Hopping windows: 5 minutes long, one starting every minute, built from the 1-minute event-time
-- windows (each event lies in exactly one minute, so the sums count it once per window). Late
-- events are out exactly as in the 1-minute windows; a window is final once its end has passed
-- the watermark of app.orders_per_minute.
WITH starts AS (
    SELECT DISTINCT m.window_start - k * interval '1 minute' AS window_start
    FROM {{ ref('app_orders_per_minute') }} m, generate_series(0, 4) AS k
)
SELECT
    s.window_start,
    s.window_start + interval '5 minutes' AS window_end,
    coalesce(sum(m.orders), 0)            AS orders,
    coalesce(sum(m.revenue), 0)           AS revenue,
    s.window_start + interval '5 minutes' <= coalesce(
        (SELECT watermark FROM lakehouse_state.watermarks WHERE model = 'app_orders_per_minute'),
        '-infinity')                      AS is_final
FROM starts s
LEFT JOIN {{ ref('app_orders_per_minute') }} m
       ON m.window_start >= s.window_start AND m.window_start < s.window_start + interval '5 minutes'
GROUP BY s.window_start
