-- Dishonest judgment debtors (失信被执行人), one row per record. A natural person
-- links to the enterprise(s) they represent by RIC (entity_id) and to dim_person.
-- Restricted: party_name and party_id_no of natural persons are personal data.

{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key='record_id'
    )
}}

with

debtors as (

    select * from {{ ref('stg_court__dishonest_debtors') }}
    where is_current

),

links as (

    select * from {{ ref('stg_linking__entity_links') }}
    where feed_id = 'court_dishonest'

),

joined as (

    select
        debtors.record_id,
        debtors.case_code,
        links.entity_id,
        links.match_method,
        debtors.party_type,
        debtors.party_type = '自然人' as is_natural_person,
        case
            when debtors.party_type = '自然人' and debtors.party_id_no is not null
                then {{ person_id("concat('ric:', debtors.party_id_no)") }}
        end as person_id,
        debtors.party_name,
        debtors.party_id_no,
        debtors.court_name,
        debtors.publish_date,
        debtors.performance_status,
        debtors.removed_date,
        debtors.removed_date is null and debtors.performance_status <> '已履行' as is_active,
        debtors.updated_at,
        debtors.ingested_at,
        debtors.promotion_seq,
        links.linked_at

    from debtors

    left join links
        on links.record_key = debtors.record_key

)

select * from joined
where {{ changed_since_last_build() }}
