{{ config(alias='fct_inspection') }}

select
    inspection_id,
    task_id,
    entity_id,
    match_method,
    matter_code,
    department_code,
    task_type,
    result,
    is_problem_found,
    inspector_cert_nos,
    inspector_count,
    inspection_date,
    rectified_date,
    rectification_status,
    rectification_due_date,
    rectification_days,
    rectification_delay_days,
    is_rectification_overdue,
    updated_at
from {{ ref('fct_inspection') }}
