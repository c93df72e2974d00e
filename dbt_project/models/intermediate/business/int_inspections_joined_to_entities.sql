-- Current inspection results with the enterprise they concern and the
-- rectification of problems found (result 2, 3, 5, 6 of standard §4).

with

inspections as (

    select * from {{ ref('stg_samr__inspections') }}
    where is_current

),

links as (

    select * from {{ ref('stg_linking__entity_links') }}
    where feed_id = 'samr_inspection'

),

joined as (

    select
        inspections.inspection_id,
        inspections.task_id,
        links.entity_id,
        links.match_method,
        inspections.uscc as delivered_uscc,
        inspections.ent_name as delivered_ent_name,
        inspections.matter_code,
        inspections.department_code,
        inspections.task_type,
        inspections.result,
        inspections.result in {{ problem_found_results() }} as is_problem_found,
        inspections.inspector_cert_nos,
        size(inspections.inspector_cert_nos) as inspector_count,
        inspections.inspection_date,
        inspections.rectified_date,
        inspections.updated_at,
        inspections.ingested_at,
        inspections.promotion_seq,
        links.linked_at

    from inspections

    left join links
        on links.record_key = inspections.record_key

),

rectification as (

    select
        *,
        case
            when not is_problem_found then 'not_required'
            when rectified_date is not null then 'rectified'
            else 'pending'
        end as rectification_status,
        case
            when is_problem_found then date_add(inspection_date, {{ var('rectification_days') }})
        end as rectification_due_date,
        case
            when is_problem_found and rectified_date is not null then datediff(rectified_date, inspection_date)
        end as rectification_days

    from joined

),

final as (

    select
        *,
        -- days past the due date: until rectification, or until the as-of date while pending
        case
            when is_problem_found then greatest(
                datediff(coalesce(rectified_date, {{ as_of_date() }}), rectification_due_date), 0
            )
        end as rectification_delay_days

    from rectification

)

select
    *,
    rectification_delay_days > 0 as is_rectification_overdue
from final
