{{ config(alias='dim_industry') }}

select
    industry_code,
    section_code,
    section_name,
    division_code,
    division_name
from {{ ref('dim_industry') }}
