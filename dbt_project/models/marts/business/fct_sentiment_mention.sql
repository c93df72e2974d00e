-- Internet sentiment mentions (互联网舆情): one row per business name mentioned
-- by an item (record key `item_id|<0-based position>`, as in gold.entity_xref).

{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key='mention_key'
    )
}}

with

items as (

    select * from {{ ref('stg_sentiment__items') }}
    where is_current

),

links as (

    select * from {{ ref('stg_linking__entity_links') }}
    where feed_id = 'sentiment'

),

mentions as (

    select
        items.*,
        mentioned.mention_pos,
        mentioned.mentioned_name

    from items

        lateral view posexplode(items.mentioned_names) mentioned as mention_pos, mentioned_name

),

joined as (

    select
        concat(mentions.record_key, '|', cast(mentions.mention_pos as string)) as mention_key,
        mentions.item_id,
        mentions.mention_pos,
        mentions.mentioned_name,
        links.entity_id,
        links.match_method,
        links.match_score,
        mentions.source,
        mentions.title,
        mentions.polarity,
        coalesce(mentions.polarity < 0, false) as is_negative,
        mentions.heat,
        mentions.published_at,
        mentions.updated_at,
        mentions.ingested_at,
        mentions.promotion_seq,
        links.linked_at

    from mentions

    left join links
        on links.record_key = concat(mentions.record_key, '|', cast(mentions.mention_pos as string))

)

select * from joined
where {{ changed_since_last_build() }}
