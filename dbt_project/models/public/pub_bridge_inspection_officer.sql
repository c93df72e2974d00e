{{ config(alias='bridge_inspection_officer') }}

select
    inspection_id,
    cert_no,
    inspection_date,
    department_code,
    is_known_officer
from {{ ref('bridge_inspection_officer') }}
