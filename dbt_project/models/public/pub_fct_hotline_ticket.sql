{{ config(alias='fct_hotline_ticket') }}

select
    ticket_id,
    entity_id,
    match_method,
    match_score,
    category,
    is_complaint,
    channel,
    target_name,
    region_code,
    handling_dept,
    substantiated,
    is_substantiated,
    satisfaction,
    received_at,
    closed_at,
    handling_hours,
    updated_at
from {{ ref('fct_hotline_ticket') }}
