with

source as (

    select * from {{ source_or_empty(source('tax', 'tax_credit')) }}

),

renamed as (

    select

        ---------- ids
        {{ record_version_id('tax', 'tax_credit') }} as record_version_id,
        _record_key as record_key,
        taxpayer_id,
        eval_year,

        ---------- strings
        taxpayer_name,
        credit_grade,

        ---------- numerics
        arrears_amount,

        ---------- dates
        updated_date,

        {{ silver_version_columns() }}

    from source

)

select * from renamed
