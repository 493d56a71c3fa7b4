-- The same 1-minute aggregate by processing time (when the platform processed the event), to set
-- beside the event-time windows: the difference between the two clocks, made visible.
CREATE TABLE IF NOT EXISTS app.orders_per_minute_processing (
    window_start timestamptz PRIMARY KEY,
    window_end   timestamptz NOT NULL,
    orders       bigint      NOT NULL,
    revenue      numeric(18, 2) NOT NULL,
    is_final     boolean     NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
