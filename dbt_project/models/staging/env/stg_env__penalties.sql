with

source as (

    select * from {{ source_or_empty(source('env', 'env_penalty')) }}

),

renamed as (

    select

        ---------- ids
        {{ record_version_id('env', 'env_penalty') }} as record_version_id,
        _record_key as record_key,
        case_no,
        unit_code,

        ---------- strings
        unit_name,
        violation,
        region_code,
        severity,

        ---------- numerics
        fine,

        ---------- dates
        decision_date,
        updated_at,

        {{ silver_version_columns() }}

    from source

)

select * from renamed
