-- Social-insurance arrears (社保欠缴), one row per unit and month.

{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key='arrears_key'
    )
}}

with

arrears as (

    select * from {{ ref('stg_hrss__social_insurance_arrears') }}
    where is_current

),

links as (

    select * from {{ ref('stg_linking__entity_links') }}
    where feed_id = 'hrss_social_insurance'

),

joined as (

    select
        arrears.record_key as arrears_key,
        links.entity_id,
        links.match_method,
        arrears.unit_code as delivered_unit_code,
        arrears.unit_name as delivered_unit_name,
        arrears.period,
        to_date(concat(arrears.period, '-01')) as period_start_date,
        arrears.insured_count,
        arrears.arrears_amount,
        arrears.arrears_months,
        coalesce(arrears.arrears_amount > 0, false) as has_arrears,
        arrears.reported_at,
        arrears.ingested_at,
        arrears.promotion_seq,
        links.linked_at

    from arrears

    left join links
        on links.record_key = arrears.record_key

)

select * from joined
where {{ changed_since_last_build() }}
