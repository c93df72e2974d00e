{{ config(alias='fct_tax_credit') }}

select
    tax_credit_key,
    entity_id,
    match_method,
    delivered_taxpayer_name,
    eval_year,
    credit_grade,
    is_low_grade,
    arrears_amount,
    has_arrears,
    updated_date
from {{ ref('fct_tax_credit') }}
