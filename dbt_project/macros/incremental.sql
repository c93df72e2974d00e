{#- Predicate of an incremental fact: rows whose source changed since the last build.

    A fact row depends on its silver version (`ingested_at`) and on its link to an
    enterprise (`linked_at`, gold.entity_xref): a record linked or relinked after
    the last build is taken again even when its silver version is old. Always true
    on a full build. -#}
{% macro changed_since_last_build(columns=['ingested_at', 'linked_at']) -%}
    {%- if is_incremental() -%}
        (
        {%- for column in columns %}
            {{ column }} > coalesce((select max({{ column }}) from {{ this }}), timestamp'1900-01-01 00:00:00')
            {%- if not loop.last %} or {% endif -%}
        {%- endfor %}
        )
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}
