with

source as (

    select * from {{ source_or_empty(source('catalog', 'matter_catalog')) }}

),

renamed as (

    select

        ---------- ids
        {{ record_version_id('catalog', 'matter_catalog') }} as record_version_id,
        _record_key as record_key,
        matter_code,
        main_item_code,

        ---------- strings
        main_item_name,
        sub_item_name,
        department_code,
        legal_basis,
        level,

        ---------- lists
        object_type,
        method,

        ---------- dates
        updated_at,

        {{ silver_version_columns() }}

    from source

)

select * from renamed
