{{ config(alias='fct_court_dishonest') }}

-- Dishonest debtors for BI: a natural person's name and RIC masked; an
-- enterprise's name and USCC shown as delivered. Any RIC-shaped party_id_no is
-- masked whatever party_type says (a 法人 record may carry a person's RIC), and
-- the name beside it with it (entity_id still names a linked enterprise).
select
    record_id,
    case_code,
    entity_id,
    match_method,
    party_type,
    is_natural_person,
    case
        when is_natural_person or {{ is_ric_shaped('party_id_no') }} then {{ mask_name('party_name') }}
        else party_name
    end as party_name,
    case
        when is_natural_person or {{ is_ric_shaped('party_id_no') }} then {{ mask_ric('party_id_no') }}
        else party_id_no
    end as party_id_no,
    court_name,
    publish_date,
    performance_status,
    removed_date,
    is_active,
    updated_at
from {{ ref('fct_court_dishonest') }}
