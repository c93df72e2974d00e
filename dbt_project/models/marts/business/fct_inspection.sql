-- Inspection results (抽查检查结果), one row per inspection, latest version.
-- Incremental: inspections whose version or link changed since the last build,
-- plus every problem still pending rectification (its delay grows each day).

{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key='inspection_id'
    )
}}

with

inspections as (

    select * from {{ ref('int_inspections_joined_to_entities') }}

)

select * from inspections
where
    {{ changed_since_last_build() }}
    {% if is_incremental() %}
    or inspection_id in (
        select built.inspection_id from {{ this }} as built
        where built.rectification_status = 'pending'
    )
    {% endif %}
