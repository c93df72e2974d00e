-- Industries of GB/T 4754-2017 (国民经济行业分类) at division level, the canonical
-- grain of industry_code (section letter + 2-digit division, e.g. C13).

with

industries as (

    select * from {{ ref('ref_industries') }}

),

sections as (

    select
        section,
        name
    from industries
    where division is null

),

divisions as (

    select
        section,
        division,
        name
    from industries
    where division is not null

),

final as (

    select
        concat(divisions.section, divisions.division) as industry_code,
        divisions.section as section_code,
        sections.name as section_name,
        divisions.division as division_code,
        divisions.name as division_name

    from divisions

    inner join sections
        on sections.section = divisions.section

)

select * from final
