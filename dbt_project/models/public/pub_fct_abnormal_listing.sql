{{ config(alias='fct_abnormal_listing') }}

select
    record_id,
    entity_id,
    match_method,
    delivered_ent_name,
    reason,
    listed_date,
    listed_authority,
    removed_date,
    removed_reason,
    is_listed,
    listed_days,
    updated_at
from {{ ref('fct_abnormal_listing') }}
