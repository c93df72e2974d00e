{{ config(alias='fct_sentiment_mention') }}

select
    mention_key,
    item_id,
    mention_pos,
    mentioned_name,
    entity_id,
    match_method,
    match_score,
    source,
    title,
    polarity,
    is_negative,
    heat,
    published_at,
    updated_at
from {{ ref('fct_sentiment_mention') }}
