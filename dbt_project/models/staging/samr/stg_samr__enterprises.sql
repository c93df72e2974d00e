with

source as (

    select * from {{ source_or_empty(source('samr', 'samr_enterprise')) }}

),

renamed as (

    select

        ---------- ids
        {{ record_version_id('samr', 'samr_enterprise') }} as record_version_id,
        _record_key as record_key,
        uscc,
        reg_no,
        org_code,

        ---------- strings
        ent_name,
        ent_type,
        legal_rep_name,
        legal_rep_id_no,
        status,
        region_code,
        industry_code,
        address,
        business_scope,
        key_field,

        ---------- numerics
        reg_capital,

        ---------- dates
        establish_date,
        updated_at,

        {{ silver_version_columns() }}

    from source

)

select * from renamed
