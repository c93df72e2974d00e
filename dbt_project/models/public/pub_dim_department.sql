{{ config(alias='dim_department') }}

select
    department_code,
    department_no,
    department_name,
    department_name_en
from {{ ref('dim_department') }}
