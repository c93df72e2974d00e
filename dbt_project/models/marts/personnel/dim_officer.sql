-- Law-enforcement officers (监管人员库) with history (SCD type 2): department,
-- region, fields and status per version. Restricted: names and RIC.

with

officers as (

    select * from {{ ref('int_officers_historized') }}

),

departments as (

    select * from {{ ref('ref_departments') }}

),

final as (

    select
        officers.officer_version_id,
        officers.cert_no,
        officers.officer_name,
        officers.officer_ric,
        officers.dept_code,
        coalesce(departments.name, officers.delivered_dept_name) as department_name,
        officers.delivered_dept_name,
        officers.region_code,
        officers.fields,
        officers.status,
        officers.status = '在岗' as is_on_duty,
        officers.valid_from,
        officers.valid_to,
        officers.is_current,
        officers.version_no,
        officers.is_on_roster

    from officers

    left join departments
        on departments.code = officers.dept_code

)

select * from final
