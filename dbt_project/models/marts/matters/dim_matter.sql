-- The regulatory matter catalogue (监管事项库): department, object types, methods
-- and level of every matter, with how often inspections, penalties and
-- collaborative tasks cite it (from fct_matter_citation).

with

matters as (

    select * from {{ ref('stg_catalog__matters') }}
    where version_rank = 1

),

departments as (

    select * from {{ ref('ref_departments') }}

),

citations as (

    select
        matter_code,
        count(*) filter (where citation_type = 'inspection') as inspection_count,
        count(*) filter (where citation_type = 'inspection' and is_problem_found) as problem_found_count,
        count(*) filter (where citation_type = 'penalty') as penalty_count,
        count(*) filter (where citation_type = 'penalty' and is_effective) as effective_penalty_count,
        count(*) filter (where citation_type = 'coop_task') as coop_task_count,
        max(cited_on) as last_cited_on

    from {{ ref('fct_matter_citation') }}

    group by matter_code

),

final as (

    select
        matters.matter_code,
        matters.main_item_code,
        matters.main_item_name,
        matters.sub_item_name,
        matters.department_code,
        departments.name as department_name,
        matters.object_type as object_types,
        matters.method as methods,
        matters.level,
        matters.legal_basis,
        matters.is_current as is_listed,
        coalesce(citations.inspection_count, 0) as inspection_count,
        coalesce(citations.problem_found_count, 0) as problem_found_count,
        coalesce(citations.penalty_count, 0) as penalty_count,
        coalesce(citations.effective_penalty_count, 0) as effective_penalty_count,
        coalesce(citations.coop_task_count, 0) as coop_task_count,
        citations.last_cited_on,
        matters.updated_at

    from matters

    left join departments
        on departments.code = matters.department_code

    left join citations
        on citations.matter_code = matters.matter_code

)

select * from final
