-- Collaborative-supervision task events in event-time order per task, with the
-- enterprise they concern. Events arrive over several days and out of order
-- (standard §4 coop_task_event): the order here is by event time, never by
-- arrival, and `is_late_arrival` marks an event delivered after a later event
-- of the same task had already been delivered in an earlier batch.

with

events as (

    select * from {{ ref('stg_coop__task_events') }}
    where is_current

),

links as (

    select * from {{ ref('stg_linking__entity_links') }}
    where feed_id = 'coop_task_event'

),

batches as (

    select
        task_id,
        batch_date,
        max(event_at) as latest_event_at

    from events

    group by task_id, batch_date

),

arrivals as (

    select
        task_id,
        batch_date,
        max(latest_event_at) over (
            partition by task_id order by batch_date
            rows between unbounded preceding and 1 preceding
        ) as earlier_batches_latest_event_at

    from batches

),

sequenced as (

    select
        events.event_id,
        events.task_id,
        row_number() over (partition by events.task_id order by events.event_at, events.event_id) as event_seq,
        events.event_type,
        case events.event_type
            when '发起' then 'initiate'
            when '分发' then 'dispatch'
            when '流转' then 'transfer'
            when '办理' then 'handle'
            when '反馈' then 'feedback'
            when '办结' then 'close'
        end as event_code,
        events.from_dept,
        events.to_dept,
        events.event_at,
        events.deadline,
        links.entity_id,
        links.match_method,
        events.subject_uscc,
        events.matter_code,
        events.note,
        events.batch_date as delivered_batch_date,
        coalesce(events.event_at < arrivals.earlier_batches_latest_event_at, false) as is_late_arrival,
        events.ingested_at,
        events.promotion_seq,
        links.linked_at

    from events

    left join arrivals
        on arrivals.task_id = events.task_id
        and arrivals.batch_date = events.batch_date

    left join links
        on links.record_key = events.record_key

)

select * from sequenced
