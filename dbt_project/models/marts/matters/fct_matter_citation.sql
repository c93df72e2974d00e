-- The inspections, penalties and collaborative tasks that cite each regulatory
-- matter (监管事项引用), one row per citing record.

with

inspections as (

    select * from {{ ref('fct_inspection') }}

),

penalties as (

    select * from {{ ref('fct_penalty') }}

),

tasks as (

    select * from {{ ref('fct_coop_task') }}

),

matters as (

    select matter_code from {{ ref('stg_catalog__matters') }}
    where version_rank = 1

),

citations as (

    select
        matter_code,
        'inspection' as citation_type,
        inspection_id as citing_record_id,
        entity_id,
        inspection_date as cited_on,
        department_code,
        is_problem_found,
        cast(null as boolean) as is_effective

    from inspections
    where matter_code is not null

    union all

    select
        matter_code,
        'penalty' as citation_type,
        decision_no as citing_record_id,
        entity_id,
        decision_date as cited_on,
        'SCJG' as department_code,
        cast(null as boolean) as is_problem_found,
        is_effective

    from penalties
    where matter_code is not null

    union all

    select
        matter_code,
        'coop_task' as citation_type,
        task_id as citing_record_id,
        entity_id,
        to_date(coalesce(initiated_at, first_event_at)) as cited_on,
        coalesce(initiating_dept, current_dept) as department_code,
        cast(null as boolean) as is_problem_found,
        cast(null as boolean) as is_effective

    from tasks
    where matter_code is not null

),

final as (

    select
        citations.*,
        matters.matter_code is not null as is_catalogued

    from citations

    left join matters
        on matters.matter_code = citations.matter_code

)

select * from final
