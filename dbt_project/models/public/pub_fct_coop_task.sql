{{ config(alias='fct_coop_task') }}

select
    task_id,
    entity_id,
    matter_code,
    initiating_dept,
    current_dept,
    task_status,
    initiated_at,
    dispatched_at,
    handled_at,
    fed_back_at,
    closed_at,
    deadline,
    dispatch_hours,
    handling_hours,
    feedback_hours,
    closing_hours,
    total_hours,
    is_overdue,
    overdue_days,
    is_sequence_consistent,
    event_count,
    transfer_count,
    late_event_count,
    first_event_at,
    last_event_at
from {{ ref('fct_coop_task') }}
