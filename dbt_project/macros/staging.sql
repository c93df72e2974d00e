{#- Columns every staging model derives the same way from silver's contract columns. -#}

{#- Surrogate key of a silver version: md5 of the business key and every standard
    column of the feed (the columns the generated _sources.yml lists, i.e. the
    schema aliases). Silver holds each (key, content) once, so this is unique. -#}
{% macro record_version_id(source_name, table_name) -%}
    {%- set columns = [] -%}
    {%- if execute -%}
        {%- set node = graph.sources['source.' ~ project_name ~ '.' ~ source_name ~ '.' ~ table_name] -%}
        {%- for name in node.columns if not name.startswith('_') -%}
            {%- do columns.append(name) -%}
        {%- endfor -%}
    {%- endif -%}
    md5(to_json(struct(_record_key{% for c in columns %}, {{ c }}{% endfor %})))
{%- endmacro %}

{% macro silver_version_columns() -%}
        ---------- versions and data quality
        _is_current as is_current,
        _version_rank as version_rank,
        _dq_flags as dq_flags,
        _outlier_flags as outlier_flags,

        ---------- lineage
        to_date(_batch_date, 'yyyyMMdd') as batch_date,
        _file_name as source_file_name,
        _record_no as source_record_no,
        _ingested_at as ingested_at,
        _promotion_seq as promotion_seq
{%- endmacro %}
