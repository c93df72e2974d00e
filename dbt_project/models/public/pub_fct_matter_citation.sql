{{ config(alias='fct_matter_citation') }}

select
    matter_code,
    citation_type,
    citing_record_id,
    entity_id,
    cited_on,
    department_code,
    is_problem_found,
    is_effective,
    is_catalogued
from {{ ref('fct_matter_citation') }}
