-- Flink SQL pipelines (docs/flink.md): which jobs the platform expects to run, and the Flink
-- aggregate written through the JDBC connector, shaped like app.orders_per_minute for comparison.
CREATE TABLE IF NOT EXISTS lakehouse_state.flink_jobs (
    job_name       text PRIMARY KEY,           -- pipeline.name given to Flink
    pipeline       text        NOT NULL,       -- dbt_like_sql/flink/<pipeline>.sql
    job_id         text,                       -- the Flink job running it, or the last one
    desired_state  text        NOT NULL CHECK (desired_state IN ('running', 'stopped')),
    savepoint_path text,                       -- where the last stop-with-savepoint left its state
    updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS app.orders_per_minute_flink (
    window_start timestamptz PRIMARY KEY,
    window_end   timestamptz NOT NULL,
    orders       bigint      NOT NULL,
    revenue      numeric(18, 2) NOT NULL,
    created      bigint      NOT NULL,
    paid         bigint      NOT NULL,
    shipped      bigint      NOT NULL,
    cancelled    bigint      NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
