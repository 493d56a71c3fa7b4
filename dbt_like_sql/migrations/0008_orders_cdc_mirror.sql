-- The mirror of the application's app.orders (database shop), kept by the model app/orders_cdc from the change
-- log silver/orders_cdc (docs/cdc.md). The application's columns, then where each row's last change came from:
-- op (r, c or u), its WAL position (lsn, then tx_id) and commit time, and when the mirror applied it. A change
-- is applied only if its position is newer than the row's, so duplicates and replays change nothing.
CREATE TABLE IF NOT EXISTS app.orders_cdc (
    order_id     text PRIMARY KEY,
    customer_id  text,
    status       text,
    amount       numeric(12, 2),
    currency     text,
    created_at   timestamptz,
    updated_at   timestamptz,
    op           text        NOT NULL,
    lsn          bigint      NOT NULL,
    tx_id        bigint      NOT NULL,
    committed_at timestamptz NOT NULL,
    applied_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS orders_cdc_applied_at ON app.orders_cdc (applied_at);

-- Rows deleted in the application: the delete's position, so that an older change arriving late (a duplicate
-- re-sent after a Connect crash) cannot bring the row back. A newer change of the key (the id re-used) removes it.
CREATE TABLE IF NOT EXISTS app.orders_cdc_deletes (
    order_id     text PRIMARY KEY,
    lsn          bigint      NOT NULL,
    tx_id        bigint      NOT NULL,
    committed_at timestamptz NOT NULL,
    applied_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS orders_cdc_deletes_applied_at ON app.orders_cdc_deletes (applied_at);
