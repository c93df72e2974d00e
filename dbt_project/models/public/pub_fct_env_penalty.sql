{{ config(alias='fct_env_penalty') }}

select
    case_no,
    entity_id,
    match_method,
    delivered_unit_name,
    violation,
    fine,
    severity,
    is_serious,
    decision_date,
    region_code,
    updated_at
from {{ ref('fct_env_penalty') }}
