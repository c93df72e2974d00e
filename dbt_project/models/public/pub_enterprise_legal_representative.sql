{{ config(alias='enterprise_legal_representative') }}

-- Legal representatives for BI: the person only as masked name and masked RIC.
select
    bridge.entity_id,
    bridge.role,
    {{ mask_name('persons.person_name') }} as person_name_masked,
    {{ mask_ric('persons.person_ric') }} as person_ric_masked,
    persons.enterprises_represented
from {{ ref('bridge_enterprise_person') }} as bridge
inner join {{ ref('dim_person') }} as persons
    on persons.person_id = bridge.person_id
