-- Event-time windows: the watermark of each windowed model, the windows, and the events too late to count.
CREATE TABLE IF NOT EXISTS lakehouse_state.watermarks (
    model          text PRIMARY KEY,
    max_event_time timestamptz NOT NULL,
    watermark      timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS app.orders_per_minute (
    window_start timestamptz PRIMARY KEY,
    window_end   timestamptz NOT NULL,
    orders       bigint      NOT NULL,
    revenue      numeric(18, 2) NOT NULL,
    created      bigint      NOT NULL,
    paid         bigint      NOT NULL,
    shipped      bigint      NOT NULL,
    cancelled    bigint      NOT NULL,
    is_final     boolean     NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS app.late_events (
    event_id          text PRIMARY KEY,
    order_id          text        NOT NULL,
    created_at        timestamptz NOT NULL,   -- the event time
    window_start      timestamptz NOT NULL,   -- the window it would have counted in
    watermark         timestamptz NOT NULL,   -- the watermark it missed (at the start of its batch)
    lateness_seconds  double precision NOT NULL,  -- watermark - event time
    processed_at      timestamptz NOT NULL,
    recorded_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS late_events_window ON app.late_events (window_start);
