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

-- The same columns, types and key as app.orders_per_minute, without is_final: Flink emits a window
-- once, when it is final.
CREATE TABLE IF NOT EXISTS app.orders_per_minute_flink
    (LIKE app.orders_per_minute INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);
ALTER TABLE app.orders_per_minute_flink DROP COLUMN IF EXISTS is_final;
