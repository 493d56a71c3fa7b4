{{ config(materialized='view', target='postgres') }}
-- The lab's dashboard dataset: orders of the last day.
SELECT * FROM {{ ref('app_orders') }} WHERE created_at > now() - interval '1 day'
