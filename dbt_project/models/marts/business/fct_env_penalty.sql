-- Environmental administrative penalties (环境行政处罚), one row per case.

{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key='case_no'
    )
}}

with

penalties as (

    select * from {{ ref('stg_env__penalties') }}
    where is_current

),

links as (

    select * from {{ ref('stg_linking__entity_links') }}
    where feed_id = 'env_penalty'

),

joined as (

    select
        penalties.case_no,
        links.entity_id,
        links.match_method,
        penalties.unit_code as delivered_unit_code,
        penalties.unit_name as delivered_unit_name,
        penalties.violation,
        penalties.fine,
        penalties.severity,
        coalesce(penalties.severity = '严重', false) as is_serious,
        penalties.decision_date,
        penalties.region_code,
        penalties.updated_at,
        penalties.ingested_at,
        penalties.promotion_seq,
        links.linked_at

    from penalties

    left join links
        on links.record_key = penalties.record_key

)

select * from joined
where {{ changed_since_last_build() }}
