with

source as (

    select * from {{ source_or_empty(source('hotline', 'hotline_12345')) }}

),

renamed as (

    select

        ---------- ids
        {{ record_version_id('hotline', 'hotline_12345') }} as record_version_id,
        _record_key as record_key,
        ticket_id,

        ---------- strings
        channel,
        category,
        target_name,
        target_address,
        region_code,
        content,
        handling_dept,
        satisfaction,

        ---------- booleans
        substantiated,

        ---------- dates
        received_at,
        closed_at,
        updated_at,

        {{ silver_version_columns() }}

    from source

)

select * from renamed
