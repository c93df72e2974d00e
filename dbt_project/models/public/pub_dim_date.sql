{{ config(alias='dim_date') }}

select
    date_day,
    year,
    quarter,
    month,
    year_month,
    day_of_month,
    day_of_week,
    week_of_year,
    is_weekend
from {{ ref('dim_date') }}
