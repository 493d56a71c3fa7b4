-- The lake's ledger (docs/decisions.md, "Bronze never leaves a gap").
-- bronze_partitions: per Kafka topic (by Kafka's topic id, so a re-created topic starts afresh) and partition,
--   `landed_to`: every offset below it has landed (or was reported lost to retention);
--   `requested_to`: every offset below it has been requested by the topic's sensor.
-- bronze_ranges: ranges that landed above landed_to (out of order); merged into landed_to as the gaps fill.
-- lake_objects: every object bronze and the s3 models wrote, in commit order (writers hold an advisory lock),
--   so readers take `id > last id read` instead of listing the object store: cost independent of history.
-- model_inputs: how far each model has read each dataset.
CREATE TABLE lakehouse_state.bronze_partitions (
    topic_id     text        NOT NULL,
    partition    integer     NOT NULL,
    topic        text        NOT NULL,
    landed_to    bigint      NOT NULL,
    requested_to bigint      NOT NULL,
    first_seen   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic_id, partition)
);

CREATE TABLE lakehouse_state.bronze_ranges (
    topic_id     text        NOT NULL,
    partition    integer     NOT NULL,
    start_offset bigint      NOT NULL,
    end_offset   bigint      NOT NULL,
    run_id       text        NOT NULL,
    landed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic_id, partition, start_offset)
);

CREATE TABLE lakehouse_state.lake_objects (
    id         bigserial   PRIMARY KEY,
    dataset    text        NOT NULL,
    key        text        NOT NULL UNIQUE,
    records    bigint      NOT NULL,
    bytes      bigint      NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX lake_objects_dataset_id ON lakehouse_state.lake_objects (dataset, id);

CREATE TABLE lakehouse_state.model_inputs (
    model      text        NOT NULL,
    dataset    text        NOT NULL,
    last_id    bigint      NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (model, dataset)
);
