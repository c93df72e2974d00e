with

source as (

    select * from {{ source_or_empty(source('hrss', 'hrss_social_insurance')) }}

),

renamed as (

    select

        ---------- ids
        {{ record_version_id('hrss', 'hrss_social_insurance') }} as record_version_id,
        _record_key as record_key,
        unit_code,
        period,

        ---------- strings
        unit_name,

        ---------- numerics
        insured_count,
        arrears_amount,
        arrears_months,

        ---------- dates
        reported_at,

        {{ silver_version_columns() }}

    from source

)

select * from renamed
