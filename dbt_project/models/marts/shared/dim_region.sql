-- Administrative divisions of GB/T 2260 (行政区划), with the prefecture and
-- province each belongs to.

with

regions as (

    select * from {{ ref('ref_regions') }}

),

levels as (

    select
        code as region_code,
        name as region_name,
        level as region_level,
        parent_code,
        case level
            when 'prefecture' then code
            when 'county' then parent_code
        end as prefecture_code

    from regions

),

final as (

    select
        levels.region_code,
        levels.region_name,
        levels.region_level,
        levels.parent_code,
        levels.prefecture_code,
        prefectures.name as prefecture_name,
        case
            when levels.region_level = 'province' then levels.region_code
            else prefectures.parent_code
        end as province_code

    from levels

    left join regions as prefectures
        on prefectures.code = levels.prefecture_code

)

select * from final
