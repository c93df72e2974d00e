-- Current administrative penalties with the enterprise they concern and their
-- publicity history. A penalty whose latest version is 撤销 or 删除 stays here
-- (history is kept) but `is_effective` is false: it no longer counts against
-- the enterprise (standard §4 samr_penalty).

with

versions as (

    select * from {{ ref('stg_samr__penalties') }}

),

links as (

    select * from {{ ref('stg_linking__entity_links') }}
    where feed_id = 'samr_penalty'

),

statuses as (

    select
        decision_no,
        version_rank,
        updated_at,
        promotion_seq,
        {{ publicity_status('publicity_status') }} as publicity_status,
        -- the status of the next older version (version_rank + 1)
        lead({{ publicity_status('publicity_status') }})
            over (partition by decision_no order by version_rank) as older_publicity_status

    from versions

),

publicity as (

    select
        decision_no,
        count(*) as version_count,
        max(promotion_seq) as promotion_seq,
        min(updated_at) as first_reported_at,
        -- the latest version at which the status changed: since when the status holds
        min_by(updated_at, version_rank) filter (
            where older_publicity_status is null or older_publicity_status <> publicity_status
        ) as publicity_status_since

    from statuses

    group by decision_no

),

current_versions as (

    select * from versions
    where version_rank = 1

),

joined as (

    select
        current_versions.decision_no,
        links.entity_id,
        links.match_method,
        current_versions.uscc as delivered_uscc,
        current_versions.ent_name as delivered_ent_name,
        current_versions.violation_type,
        current_versions.legal_basis,
        current_versions.penalty_types,
        current_versions.fine_amount,
        current_versions.confiscated_amount,
        current_versions.severity,
        current_versions.severity = '严重' as is_serious,
        current_versions.decision_date,
        current_versions.authority,
        current_versions.authority_region_code,
        current_versions.matter_code,
        {{ publicity_status('current_versions.publicity_status') }} as publicity_status,
        {{ publicity_status('current_versions.publicity_status') }} not in {{ withdrawn_publicity_statuses() }}
            as is_effective,
        publicity.publicity_status_since,
        publicity.version_count,
        publicity.first_reported_at,
        current_versions.updated_at,
        current_versions.ingested_at,
        -- any version written later (an older one arriving late) changes the history columns
        publicity.promotion_seq,
        links.linked_at

    from current_versions

    inner join publicity
        on publicity.decision_no = current_versions.decision_no

    left join links
        on links.record_key = current_versions.record_key

)

select * from joined
