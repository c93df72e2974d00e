with

source as (

    select * from {{ source_or_empty(source('linking', 'entity_xref')) }}

),

renamed as (

    select

        ---------- ids
        feed_id,
        record_key,
        entity_id,

        ---------- strings
        match_method,

        ---------- numerics
        match_score,

        ---------- dates
        _linked_at as linked_at

    from source

)

select * from renamed
