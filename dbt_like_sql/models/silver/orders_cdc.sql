{{ config(materialized='incremental', target='s3', unique_key='change_id',
          partition_by=['commit_date', 'commit_hour']) }}
-- The change log of the application's app.orders (Debezium's c/u/d and snapshot r changes, via bronze): one row
-- per change, in the lake. Tombstones are left out (the delete before each one carries the change); a change
-- Connect sent twice (after a crash) is one row: change_id is key, WAL position and op. before/after stay whole
-- as JSON, so a column added to the source table is kept; the typed columns are the row after the change (before
-- it, for a delete). TRY_CAST: a value the envelope check cannot see turns NULL instead of stopping the model.
WITH changes AS (
    SELECT *, CASE WHEN op = 'd' THEN before ELSE after END AS row
    FROM {{ source('bronze', 'dbserver1_app_orders') }}
    WHERE op IS NOT NULL
)
SELECT
    concat_ws(':', row->>'order_id', source.lsn, op)           AS change_id,
    row->>'order_id'                                            AS order_id,
    op,
    source.lsn                                                  AS lsn,
    source."txId"                                               AS tx_id,
    to_timestamp(source.ts_ms / 1000)                           AS committed_at,
    to_timestamp(ts_ms / 1000)                                  AS captured_at,
    row->>'customer_id'                                         AS customer_id,
    row->>'status'                                              AS status,
    TRY_CAST(row->>'amount' AS DECIMAL(12, 2))                  AS amount,
    row->>'currency'                                            AS currency,
    TRY_CAST(row->>'created_at' AS TIMESTAMPTZ)                 AS created_at,
    TRY_CAST(row->>'updated_at' AS TIMESTAMPTZ)                 AS updated_at,
    CAST(before AS VARCHAR)                                     AS before,
    CAST(after AS VARCHAR)                                      AS after,
    CAST(processed_at AS TIMESTAMPTZ)                           AS processed_at,
    _kafka.partition                                            AS kafka_partition,
    _kafka."offset"                                             AS kafka_offset,
    strftime(to_timestamp(source.ts_ms / 1000) AT TIME ZONE 'UTC', '%Y-%m-%d') AS commit_date,
    CAST(hour(to_timestamp(source.ts_ms / 1000) AT TIME ZONE 'UTC') AS INTEGER) AS commit_hour
FROM changes
QUALIFY row_number() OVER (PARTITION BY change_id ORDER BY _kafka.partition, _kafka."offset") = 1
