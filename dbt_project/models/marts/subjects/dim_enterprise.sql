-- gold.dim_enterprise (standard §5): the enterprise register with full history.
-- Incremental: merges the versions whose history columns changed since the last
-- build (new versions, their neighbours' valid_to, currency), nothing else.

{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key='enterprise_version_id'
    )
}}

with

history as (

    select * from {{ ref('int_enterprises_historized') }}

),

changed as (

    select history.*

    from history

    {% if is_incremental() %}
    left join {{ this }} as built
        on built.enterprise_version_id = history.enterprise_version_id

    where
        built.enterprise_version_id is null
        or not (
            built.valid_to <=> history.valid_to
            and built.is_current <=> history.is_current
            and built.version_no <=> history.version_no
            and built.is_in_register <=> history.is_in_register
        )
    {% endif %}

),

final as (

    select
        entity_id,
        ent_name,
        ent_type,
        status,
        region_code,
        industry_code,
        establish_date,
        valid_from,
        valid_to,
        is_current,
        enterprise_version_id,
        version_no,
        is_in_register,
        reg_no,
        org_code,
        reg_capital,
        key_field,
        address,
        ingested_at

    from changed

)

select * from final
