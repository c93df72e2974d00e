-- Administrative penalties (行政处罚), one row per decision, latest version, with
-- the latest publicity status; withdrawn penalties are kept with is_effective = false.

{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key='decision_no'
    )
}}

with

penalties as (

    select * from {{ ref('int_penalties_joined_to_entities') }}

)

select * from penalties
where {{ changed_since_last_build() }}
