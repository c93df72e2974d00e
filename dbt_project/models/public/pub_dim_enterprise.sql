{{ config(alias='dim_enterprise') }}

select
    entity_id,
    ent_name,
    ent_type,
    status,
    region_code,
    industry_code,
    establish_date,
    valid_from,
    valid_to,
    is_current,
    enterprise_version_id,
    version_no,
    is_in_register,
    reg_capital,
    key_field,
    address
from {{ ref('dim_enterprise') }}
