with

source as (

    select * from {{ source_or_empty(source('license', 'license')) }}

),

renamed as (

    select

        ---------- ids
        {{ record_version_id('license', 'license') }} as record_version_id,
        _record_key as record_key,
        license_no,
        holder_uscc,

        ---------- strings
        license_type,
        holder_name,
        issuing_dept,
        status,

        ---------- dates
        issue_date,
        valid_until,
        updated_at,

        {{ silver_version_columns() }}

    from source

)

select * from renamed
