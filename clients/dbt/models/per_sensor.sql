{{ config(materialized='materialized_view') }}
select sensor, count(*) as n, sum(value) as total from {{ ref('readings') }} group by sensor
