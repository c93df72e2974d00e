-- Abnormal operation list periods (经营异常名录): one row per listing, from the
-- listing date to the removal date (open while still listed).

{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key='record_id'
    )
}}

with

listings as (

    select * from {{ ref('stg_samr__abnormal_listings') }}
    where is_current

),

links as (

    select * from {{ ref('stg_linking__entity_links') }}
    where feed_id = 'samr_abnormal_list'

),

joined as (

    select
        listings.record_id,
        links.entity_id,
        links.match_method,
        listings.uscc as delivered_uscc,
        listings.ent_name as delivered_ent_name,
        listings.reason,
        listings.listed_date,
        listings.listed_authority,
        listings.removed_date,
        listings.removed_reason,
        listings.removed_date is null as is_listed,
        datediff(listings.removed_date, listings.listed_date) as listed_days,
        listings.updated_at,
        listings.ingested_at,
        listings.promotion_seq,
        links.linked_at

    from listings

    left join links
        on links.record_key = listings.record_key

)

select * from joined
where {{ changed_since_last_build() }}
