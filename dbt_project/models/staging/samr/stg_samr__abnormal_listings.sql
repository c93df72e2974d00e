with

source as (

    select * from {{ source_or_empty(source('samr', 'samr_abnormal_list')) }}

),

renamed as (

    select

        ---------- ids
        {{ record_version_id('samr', 'samr_abnormal_list') }} as record_version_id,
        _record_key as record_key,
        record_id,
        uscc,

        ---------- strings
        ent_name,
        reason,
        listed_authority,
        removed_reason,

        ---------- dates
        listed_date,
        removed_date,
        updated_at,

        {{ silver_version_columns() }}

    from source

)

select * from renamed
