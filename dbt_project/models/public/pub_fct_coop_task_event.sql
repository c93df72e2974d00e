{{ config(alias='fct_coop_task_event') }}

select
    event_id,
    task_id,
    event_seq,
    event_type,
    event_code,
    from_dept,
    to_dept,
    event_at,
    deadline,
    entity_id,
    matter_code,
    note,
    delivered_batch_date,
    is_late_arrival
from {{ ref('fct_coop_task_event') }}
