with

source as (

    select * from {{ source_or_empty(source('linking', 'enterprise_person')) }}

),

renamed as (

    select

        ---------- ids
        entity_id,
        {{ person_id('person_key') }} as person_id,
        person_key,

        ---------- strings
        key_method,
        person_name,
        person_ric,
        role,
        ent_status,

        ---------- numerics
        enterprises_represented

    from source

)

select * from renamed
