with

source as (

    select * from {{ source_or_empty(source('samr', 'samr_annual_report')) }}

),

renamed as (

    select

        ---------- ids
        {{ record_version_id('samr', 'samr_annual_report') }} as record_version_id,
        _record_key as record_key,
        uscc,
        report_year,

        ---------- numerics
        employees,
        insured_employees,
        total_revenue,

        ---------- booleans
        is_public,

        ---------- dates
        submitted_at,
        updated_at,

        {{ silver_version_columns() }}

    from source

)

select * from renamed
