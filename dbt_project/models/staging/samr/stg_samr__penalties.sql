with

source as (

    select * from {{ source_or_empty(source('samr', 'samr_penalty')) }}

),

renamed as (

    select

        ---------- ids
        {{ record_version_id('samr', 'samr_penalty') }} as record_version_id,
        _record_key as record_key,
        decision_no,
        uscc,
        matter_code,

        ---------- strings
        ent_name,
        violation_type,
        legal_basis,
        severity,
        authority,
        authority_region_code,
        publicity_status,

        ---------- lists
        penalty_types,

        ---------- numerics
        fine_amount,
        confiscated_amount,

        ---------- dates
        decision_date,
        updated_at,

        {{ silver_version_columns() }}

    from source

)

select * from renamed
