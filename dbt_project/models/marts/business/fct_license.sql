-- Administrative licences (行政许可), one row per licence, latest version.

{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key='license_no'
    )
}}

with

licenses as (

    select * from {{ ref('stg_license__licenses') }}
    where is_current

),

links as (

    select * from {{ ref('stg_linking__entity_links') }}
    where feed_id = 'license'

),

joined as (

    select
        licenses.license_no,
        links.entity_id,
        links.match_method,
        licenses.holder_uscc as delivered_uscc,
        licenses.holder_name as delivered_holder_name,
        licenses.license_type,
        licenses.issuing_dept,
        licenses.status,
        licenses.status = '有效' as is_status_valid,
        licenses.issue_date,
        licenses.valid_until,
        licenses.updated_at,
        licenses.ingested_at,
        licenses.promotion_seq,
        links.linked_at

    from licenses

    left join links
        on links.record_key = licenses.record_key

)

select * from joined
where {{ changed_since_last_build() }}
