{{ config(materialized='view', target='postgres') }}
-- The mirror's replication lag over the last 5 minutes: source commit time (Debezium's source.ts_ms) to the
-- moment the change was applied to app.orders_cdc (deletes included); the dashboard's figure.
WITH applied AS (
    SELECT committed_at, applied_at FROM {{ ref('app_orders_cdc') }} WHERE applied_at > now() - interval '5 minutes'
    UNION ALL
    SELECT committed_at, applied_at FROM app.orders_cdc_deletes WHERE applied_at > now() - interval '5 minutes'
)
SELECT
    count(*)                                                                                   AS changes_applied,
    round(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM applied_at - committed_at))::numeric, 2)
                                                                                               AS lag_p50_s,
    round(percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM applied_at - committed_at))::numeric, 2)
                                                                                               AS lag_p95_s,
    round(max(extract(epoch FROM applied_at - committed_at))::numeric, 2)                      AS lag_max_s,
    max(applied_at)                                                                            AS last_applied_at
FROM applied
