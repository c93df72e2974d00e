with

source as (

    select * from {{ source_or_empty(source('sentiment', 'sentiment')) }}

),

renamed as (

    select

        ---------- ids
        {{ record_version_id('sentiment', 'sentiment') }} as record_version_id,
        _record_key as record_key,
        item_id,

        ---------- strings
        source,
        title,

        ---------- lists
        mentioned_names,

        ---------- numerics
        polarity,
        heat,

        ---------- dates
        published_at,
        updated_at,

        {{ silver_version_columns() }}

    from source

)

select * from renamed
