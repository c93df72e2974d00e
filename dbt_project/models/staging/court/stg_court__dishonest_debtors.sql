with

source as (

    select * from {{ source_or_empty(source('court', 'court_dishonest')) }}

),

renamed as (

    select

        ---------- ids
        {{ record_version_id('court', 'court_dishonest') }} as record_version_id,
        _record_key as record_key,
        record_id,
        case_code,
        party_id_no,

        ---------- strings
        party_name,
        party_type,
        court_name,
        performance_status,

        ---------- dates
        publish_date,
        removed_date,
        updated_at,

        {{ silver_version_columns() }}

    from source

)

select * from renamed
