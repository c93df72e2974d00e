with

source as (

    select * from {{ source_or_empty(source('samr', 'samr_inspection')) }}

),

renamed as (

    select

        ---------- ids
        {{ record_version_id('samr', 'samr_inspection') }} as record_version_id,
        _record_key as record_key,
        inspection_id,
        task_id,
        uscc,
        matter_code,

        ---------- strings
        task_type,
        ent_name,
        result,
        department_code,

        ---------- lists
        inspector_cert_nos,

        ---------- dates
        inspection_date,
        rectified_date,
        updated_at,

        {{ silver_version_columns() }}

    from source

)

select * from renamed
