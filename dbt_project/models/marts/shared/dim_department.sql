-- Departments that deliver data (standard §3 部门编码).

with

departments as (

    select * from {{ ref('ref_departments') }}

),

final as (

    select
        code as department_code,
        no as department_no,
        name as department_name,
        name_en as department_name_en

    from departments

)

select * from final
