{{ config(alias='dim_region') }}

select
    region_code,
    region_name,
    region_level,
    parent_code,
    prefecture_code,
    prefecture_name,
    province_code
from {{ ref('dim_region') }}
