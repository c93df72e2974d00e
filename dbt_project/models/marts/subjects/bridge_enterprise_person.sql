-- Which person plays which role for which enterprise (enterprise–person bridge).

with

representations as (

    select * from {{ ref('stg_linking__enterprise_persons') }}

),

bridge as (

    select
        entity_id,
        person_id,
        role,
        ent_status

    from representations

)

select * from bridge
