-- What each incremental model has already consumed, so a run processes only new input and a
-- re-run of the same input changes nothing.
CREATE SCHEMA IF NOT EXISTS lakehouse_state;

CREATE TABLE IF NOT EXISTS lakehouse_state.processed_objects (
    model        text        NOT NULL,
    object_key   text        NOT NULL,
    batch_id     text        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (model, object_key)
);

-- Latest state of every order (the lab's dashboard table); created_at is the event time.
CREATE TABLE IF NOT EXISTS app.orders (
    order_id     text PRIMARY KEY,
    event_id     text        NOT NULL,
    customer_id  text,
    status       text        NOT NULL,
    amount       numeric(14, 2) NOT NULL,
    currency     text,
    created_at   timestamptz NOT NULL,
    processed_at timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS orders_created_at ON app.orders (created_at);
