{{ config(alias='dim_matter') }}

select
    matter_code,
    main_item_code,
    main_item_name,
    sub_item_name,
    department_code,
    department_name,
    object_types,
    methods,
    level,
    legal_basis,
    is_listed,
    inspection_count,
    problem_found_count,
    penalty_count,
    effective_penalty_count,
    coop_task_count,
    last_cited_on,
    updated_at
from {{ ref('dim_matter') }}
