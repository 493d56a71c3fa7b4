-- Spark Structured Streaming pipelines (docs/spark.md): one row per driver the platform started — what it is
-- expected to do, what it last said about itself (status, progress, the failure), and the last micro-batch its
-- Postgres sink committed; and the Spark aggregate, shaped like app.orders_per_minute for comparison.
CREATE TABLE IF NOT EXISTS lakehouse_state.spark_queries (
    job_name       text PRIMARY KEY,           -- the query's name; its checkpoint is spark/checkpoints/<job_name>/
    pipeline       text        NOT NULL,       -- dbt_like_sql/spark/<pipeline>.py
    desired_state  text        NOT NULL CHECK (desired_state IN ('running', 'stopped')),
    status         text        NOT NULL CHECK (status IN ('starting', 'running', 'stopped', 'failed')),
    host           text,                       -- where the driver runs
    pid            integer,
    query_id       text,                       -- Spark's query id (kept by the checkpoint) and this run's id
    run_id         text,
    progress       jsonb,                      -- the last StreamingQueryProgress
    error          text,                       -- the query's exception when it failed (secrets masked)
    sink_batch_id  bigint,                     -- the last micro-batch the Postgres sink committed
    heartbeat_at   timestamptz,                -- the driver writes at least every few seconds while it runs
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- The same columns, types and key as app.orders_per_minute, without is_final: the Spark query writes a window
-- once, when the watermark passes its end (append mode).
CREATE TABLE IF NOT EXISTS app.orders_per_minute_spark
    (LIKE app.orders_per_minute INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);
ALTER TABLE app.orders_per_minute_spark DROP COLUMN IF EXISTS is_final;

-- The three engines' orders per minute side by side, for the dashboard's comparison chart (docs/engines.md).
CREATE OR REPLACE VIEW app.orders_per_minute_engines AS
SELECT window_start, d.orders AS duckdb, f.orders AS flink, s.orders AS spark
FROM app.orders_per_minute AS d
FULL JOIN app.orders_per_minute_flink AS f USING (window_start)
FULL JOIN app.orders_per_minute_spark AS s USING (window_start);
