{#- Predicate of an incremental fact: rows whose source changed since the last build.

    A fact row depends on its silver version (`promotion_seq`, which grows with every
    silver promotion: a delivery held by the gate and released after later ones is
    still taken, although its `ingested_at` is older than what the fact holds) and on
    its link to an enterprise (`linked_at`, gold.entity_xref): a record linked or
    relinked after the last build is taken again even when its silver version is old.
    Always true on a full build. -#}
{% macro changed_since_last_build(columns=['promotion_seq', 'linked_at']) -%}
    {%- if is_incremental() -%}
        (
        {%- for column in columns %}
            {{ column }} > coalesce((select max({{ column }}) from {{ this }}), {{ watermark_floor(column) }})
            {%- if not loop.last %} or {% endif -%}
        {%- endfor %}
        )
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- Below every value of a watermark column: sequences are >= 0, timestamps after 1900. -#}
{% macro watermark_floor(column) -%}
    {%- if column.endswith('_seq') -%}
        cast(-1 as bigint)
    {%- else -%}
        timestamp'1900-01-01 00:00:00'
    {%- endif -%}
{%- endmacro %}
