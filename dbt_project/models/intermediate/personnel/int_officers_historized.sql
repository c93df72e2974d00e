-- History of law-enforcement officers (执法人员): one row per delivered version of
-- an officer's record, valid from its updated_at until the next newer version's.

with

versions as (

    select * from {{ ref('stg_personnel__officers') }}

),

historized as (

    select
        record_version_id as officer_version_id,
        cert_no,
        name as officer_name,
        id_no as officer_ric,
        dept_code,
        dept_name as delivered_dept_name,
        region_code,
        fields,
        status,
        updated_at as valid_from,
        lag(updated_at) over (partition by cert_no order by version_rank) as valid_to,
        version_rank = 1 as is_current,
        count(*) over (partition by cert_no) - version_rank + 1 as version_no,
        -- still on the roster: the latest full personnel snapshot holds the officer
        coalesce(max(case when version_rank = 1 then is_current end) over (partition by cert_no), false)
            as is_on_roster

    from versions

)

select * from historized
