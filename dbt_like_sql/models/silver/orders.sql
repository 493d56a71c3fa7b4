{{ config(materialized='incremental', target='s3', unique_key='event_id',
          partition_by=['event_date', 'event_hour']) }}
-- Typed order events from bronze: bronze already quarantined everything that breaks the schema,
-- so the casts here cannot fail; duplicates within the batch keep their first Kafka offset.
SELECT
    event_id,
    order_id,
    customer_id,
    status,
    CAST(amount AS DECIMAL(14, 2))                  AS amount,
    currency,
    CAST(created_at AS TIMESTAMPTZ)                 AS created_at,
    CAST(processed_at AS TIMESTAMPTZ)               AS processed_at,
    _kafka.partition                                AS kafka_partition,
    _kafka."offset"                                 AS kafka_offset,
    strftime(CAST(created_at AS TIMESTAMPTZ) AT TIME ZONE 'UTC', '%Y-%m-%d') AS event_date,
    CAST(hour(CAST(created_at AS TIMESTAMPTZ) AT TIME ZONE 'UTC') AS INTEGER) AS event_hour
FROM {{ source('bronze', 'orders') }}
QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY _kafka.partition, _kafka."offset") = 1
