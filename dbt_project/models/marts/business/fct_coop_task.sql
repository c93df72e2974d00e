-- Collaborative-supervision tasks (协同监管任务), one row per task: the event
-- trail pivoted to its lifecycle (first occurrence of each milestone by event
-- time), hours between milestones and overdue against the deadline (closed
-- after it, or open past it on the as-of date). Computed from the whole trail,
-- so the result does not depend on the order in which events arrived.
-- Incremental: tasks with new events or links, plus every open task (its
-- overdue days grow each day).

{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key='task_id'
    )
}}

with

events as (

    select * from {{ ref('fct_coop_task_event') }}

),

milestones as (

    select
        task_id,
        min(event_at) filter (where event_code = 'initiate') as initiated_at,
        min(event_at) filter (where event_code = 'dispatch') as dispatched_at,
        min(event_at) filter (where event_code = 'handle') as handled_at,
        min(event_at) filter (where event_code = 'feedback') as fed_back_at,
        min(event_at) filter (where event_code = 'close') as closed_at,
        min_by(from_dept, event_seq) filter (where event_code = 'initiate') as initiating_dept,
        max_by(coalesce(to_dept, from_dept), event_seq) as current_dept,
        -- a later event may extend the deadline or name the subject
        max_by(deadline, event_seq) filter (where deadline is not null) as deadline,
        max_by(entity_id, event_seq) filter (where entity_id is not null) as entity_id,
        max_by(subject_uscc, event_seq) filter (where subject_uscc is not null) as subject_uscc,
        max_by(matter_code, event_seq) filter (where matter_code is not null) as matter_code,
        count(*) as event_count,
        count(*) filter (where event_code = 'transfer') as transfer_count,
        count(*) filter (where is_late_arrival) as late_event_count,
        min(event_at) as first_event_at,
        max(event_at) as last_event_at,
        max(ingested_at) as ingested_at,
        max(promotion_seq) as promotion_seq,
        max(linked_at) as linked_at

    from events

    group by task_id

),

lifecycle as (

    select
        *,
        case
            when closed_at is not null then 'closed'
            when fed_back_at is not null then 'fed_back'
            when handled_at is not null then 'handled'
            when dispatched_at is not null then 'dispatched'
            when initiated_at is not null then 'initiated'
            else 'unknown'
        end as task_status,
        {{ hours_between('initiated_at', 'dispatched_at') }} as dispatch_hours,
        {{ hours_between('dispatched_at', 'handled_at') }} as handling_hours,
        {{ hours_between('handled_at', 'fed_back_at') }} as feedback_hours,
        {{ hours_between('fed_back_at', 'closed_at') }} as closing_hours,
        {{ hours_between('initiated_at', 'closed_at') }} as total_hours,
        -- milestones that are present follow the lifecycle order
        array_compact(array(initiated_at, dispatched_at, handled_at, fed_back_at, closed_at))
        = array_sort(array_compact(array(initiated_at, dispatched_at, handled_at, fed_back_at, closed_at)))
            as is_sequence_consistent,
        case
            when deadline is not null then greatest(
                datediff(coalesce(to_date(closed_at), {{ as_of_date() }}), deadline), 0
            )
        end as overdue_days

    from milestones

),

final as (

    select
        *,
        overdue_days > 0 as is_overdue

    from lifecycle

)

select * from final
where
    {{ changed_since_last_build() }}
    {% if is_incremental() %}
    or task_id in (
        select built.task_id from {{ this }} as built
        where built.closed_at is null
    )
    {% endif %}
