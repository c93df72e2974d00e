-- Tax credit ratings and arrears (纳税信用评价), one row per taxpayer and year.

{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key='tax_credit_key'
    )
}}

with

ratings as (

    select * from {{ ref('stg_tax__credit_ratings') }}
    where is_current

),

links as (

    select * from {{ ref('stg_linking__entity_links') }}
    where feed_id = 'tax_credit'

),

joined as (

    select
        ratings.record_key as tax_credit_key,
        links.entity_id,
        links.match_method,
        ratings.taxpayer_id as delivered_taxpayer_id,
        ratings.taxpayer_name as delivered_taxpayer_name,
        ratings.eval_year,
        ratings.credit_grade,
        ratings.credit_grade in ('C', 'D') as is_low_grade,
        ratings.arrears_amount,
        coalesce(ratings.arrears_amount > 0, false) as has_arrears,
        ratings.updated_date,
        ratings.ingested_at,
        ratings.promotion_seq,
        links.linked_at

    from ratings

    left join links
        on links.record_key = ratings.record_key

)

select * from joined
where {{ changed_since_last_build() }}
