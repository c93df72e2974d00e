-- Natural persons who legally represent registered enterprises. Restricted: holds
-- names and RIC; the public layer only shows them masked.

with

representations as (

    select * from {{ ref('stg_linking__enterprise_persons') }}

),

persons as (

    select
        person_id,
        person_key,
        key_method,
        max(person_name) as person_name,
        max(person_ric) as person_ric,
        count(distinct entity_id) as enterprises_represented

    from representations

    group by person_id, person_key, key_method

)

select * from persons
