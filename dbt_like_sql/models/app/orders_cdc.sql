{{ config(materialized='changes', target='postgres', unique_key='order_id', position=['lsn', 'tx_id'],
          deletes_table='app.orders_cdc_deletes') }}
-- The application's current orders, mirrored from the change log: per order the newest change of the batch (by
-- WAL position); the runner applies it only if it is newer than the mirror's row or the order's delete, so
-- snapshot rows, creates, updates and deletes end as in the source whatever the order and however often they
-- arrive (assets/models/changes.py). A change whose row has no order_id (an envelope Debezium would never write)
-- stays in the change log for a look and is not applied: it cannot name a row.
SELECT order_id, customer_id, status, amount, currency, created_at, updated_at, op, lsn, tx_id, committed_at
FROM {{ ref('silver_orders_cdc') }}
WHERE order_id IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY order_id ORDER BY lsn DESC, tx_id DESC) = 1
