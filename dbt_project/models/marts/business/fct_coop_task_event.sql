-- The event trail of collaborative-supervision tasks (协同监管任务流转), one row
-- per event. Incremental by task: when any event of a task arrives (late or out
-- of order) every event of that task is taken again, so event_seq stays right.

{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key='event_id'
    )
}}

with

events as (

    select * from {{ ref('int_coop_task_events_sequenced') }}

)

select * from events
{% if is_incremental() %}
where
    task_id in (
        select changed.task_id from events as changed
        where {{ changed_since_last_build() }}
    )
{% endif %}
