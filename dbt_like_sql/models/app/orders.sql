{{ config(materialized='incremental', target='postgres', unique_key='order_id', newer_by='created_at') }}
-- Latest state per order: the newest event (by event time) of each order in the new silver rows;
-- the upsert keeps a row that is newer than what arrives.
SELECT order_id, event_id, customer_id, status, amount, currency, created_at, processed_at
FROM {{ ref('silver_orders') }}
QUALIFY row_number() OVER (PARTITION BY order_id ORDER BY created_at DESC, kafka_partition DESC, kafka_offset DESC) = 1
