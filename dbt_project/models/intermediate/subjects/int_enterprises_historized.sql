-- SCD type 2 history of the enterprise register: one row per registered version,
-- valid from its updated_at until the next newer version's updated_at. Computed
-- over every version silver holds, so a late or out-of-order version lands in
-- its place and its neighbours' validity follows.

with

versions as (

    select * from {{ ref('stg_samr__enterprises') }}

),

historized as (

    select
        record_version_id as enterprise_version_id,
        uscc as entity_id,
        ent_name,
        ent_type,
        status,
        region_code,
        industry_code,
        establish_date,
        reg_no,
        org_code,
        reg_capital,
        key_field,
        address,
        updated_at as valid_from,
        -- version_rank 1 is the latest: the next newer version ends this one
        lag(updated_at) over (partition by uscc order by version_rank) as valid_to,
        version_rank = 1 as is_current,
        count(*) over (partition by uscc) - version_rank + 1 as version_no,
        -- still held by the register: silver keeps the latest version current unless
        -- a newer full snapshot no longer contained the enterprise
        coalesce(max(case when version_rank = 1 then is_current end) over (partition by uscc), false)
            as is_in_register,
        ingested_at

    from versions

)

select * from historized
