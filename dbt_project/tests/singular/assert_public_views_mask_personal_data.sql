-- No public view shows a full resident identity card number or a full person name
-- (standard §3 RIC: 17 digits + digit/X). Rows returned are leaks.

select
    'dim_officer' as view_name,
    officer_ric_masked as leaked_value
from {{ ref('pub_dim_officer') }}
where officer_ric_masked rlike '^[0-9]{17}[0-9Xx]$' or officer_name_masked not like '%*'

union all

select
    'enterprise_legal_representative' as view_name,
    person_ric_masked as leaked_value
from {{ ref('pub_enterprise_legal_representative') }}
where person_ric_masked rlike '^[0-9]{17}[0-9Xx]$' or person_name_masked not like '%*'

union all

select
    'fct_court_dishonest' as view_name,
    party_id_no as leaked_value
from {{ ref('pub_fct_court_dishonest') }}
-- a RIC is masked whatever party_type says (a 法人 record may carry a person's RIC)
where party_id_no rlike '^[0-9]{17}[0-9Xx]$' or (is_natural_person and party_name not like '%*')
