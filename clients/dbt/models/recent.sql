{{ config(materialized='view') }}
select id, sensor, value from {{ ref('readings') }} where id >= 2
