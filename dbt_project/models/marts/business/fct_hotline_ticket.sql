-- 12345 citizen hotline tickets (12345 工单): complaints, reports and other
-- requests, one row per ticket, with the business named by the citizen linked
-- to a registered enterprise where linking found one.

{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key='ticket_id'
    )
}}

with

tickets as (

    select * from {{ ref('stg_hotline__tickets') }}
    where is_current

),

links as (

    select * from {{ ref('stg_linking__entity_links') }}
    where feed_id = 'hotline_12345'

),

joined as (

    select
        tickets.ticket_id,
        links.entity_id,
        links.match_method,
        links.match_score,
        tickets.category,
        tickets.category in ('投诉', '举报') as is_complaint,
        tickets.channel,
        tickets.target_name,
        tickets.target_address,
        tickets.region_code,
        tickets.content,
        tickets.handling_dept,
        tickets.substantiated,
        coalesce(tickets.substantiated, false) as is_substantiated,
        tickets.satisfaction,
        tickets.received_at,
        tickets.closed_at,
        {{ hours_between('tickets.received_at', 'tickets.closed_at') }} as handling_hours,
        tickets.updated_at,
        tickets.ingested_at,
        tickets.promotion_seq,
        links.linked_at

    from tickets

    left join links
        on links.record_key = tickets.record_key

)

select * from joined
where {{ changed_since_last_build() }}
