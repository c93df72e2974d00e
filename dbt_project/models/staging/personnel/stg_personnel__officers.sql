with

source as (

    select * from {{ source_or_empty(source('personnel', 'personnel')) }}

),

renamed as (

    select

        ---------- ids
        {{ record_version_id('personnel', 'personnel') }} as record_version_id,
        _record_key as record_key,
        cert_no,
        id_no,

        ---------- strings
        name,
        dept_code,
        dept_name,
        region_code,
        status,

        ---------- lists
        fields,

        ---------- dates
        updated_at,

        {{ silver_version_columns() }}

    from source

)

select * from renamed
