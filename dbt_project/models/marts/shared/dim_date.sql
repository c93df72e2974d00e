-- Calendar days (日期维度) from var date_spine_start to date_spine_end.

with

days as (

    select explode(sequence(
        to_date('{{ var("date_spine_start") }}'),
        to_date('{{ var("date_spine_end") }}'),
        interval 1 day
    )) as date_day

),

final as (

    select
        date_day,
        year(date_day) as year,
        quarter(date_day) as quarter,
        month(date_day) as month,
        date_format(date_day, 'yyyy-MM') as year_month,
        dayofmonth(date_day) as day_of_month,
        -- ISO: Monday = 1 ... Sunday = 7
        (dayofweek(date_day) + 5) % 7 + 1 as day_of_week,
        weekofyear(date_day) as week_of_year,
        dayofweek(date_day) in (1, 7) as is_weekend

    from days

)

select * from final
