{{ config(alias='fct_social_insurance_arrears') }}

select
    arrears_key,
    entity_id,
    match_method,
    delivered_unit_name,
    period,
    period_start_date,
    insured_count,
    arrears_amount,
    arrears_months,
    has_arrears,
    reported_at
from {{ ref('fct_social_insurance_arrears') }}
