{{ config(alias='dim_officer') }}

-- Officers for BI: name and RIC masked, nothing else personal.
select
    officer_version_id,
    cert_no,
    {{ mask_name('officer_name') }} as officer_name_masked,
    {{ mask_ric('officer_ric') }} as officer_ric_masked,
    dept_code,
    department_name,
    region_code,
    fields,
    status,
    is_on_duty,
    valid_from,
    valid_to,
    is_current,
    version_no,
    is_on_roster
from {{ ref('dim_officer') }}
