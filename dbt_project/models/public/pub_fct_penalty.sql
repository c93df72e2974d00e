{{ config(alias='fct_penalty') }}

select
    decision_no,
    entity_id,
    match_method,
    delivered_ent_name,
    violation_type,
    legal_basis,
    penalty_types,
    fine_amount,
    confiscated_amount,
    severity,
    is_serious,
    decision_date,
    authority,
    authority_region_code,
    matter_code,
    publicity_status,
    is_effective,
    publicity_status_since,
    version_count,
    first_reported_at,
    updated_at
from {{ ref('fct_penalty') }}
