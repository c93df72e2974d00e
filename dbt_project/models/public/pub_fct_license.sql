{{ config(alias='fct_license') }}

select
    license_no,
    entity_id,
    match_method,
    delivered_holder_name,
    license_type,
    issuing_dept,
    status,
    is_status_valid,
    issue_date,
    valid_until,
    updated_at
from {{ ref('fct_license') }}
