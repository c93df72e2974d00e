{#- Column comments of the gold marts (persist_docs columns), in one Delta commit per table.

    dbt-spark writes one `alter table ... change column ... comment` per documented column: one
    Delta commit each, hundreds per build. Delta takes them all in one `alter column` statement.
    An incremental mart whose comments are already those of its docs is left alone, so a build
    that changes nothing commits nothing. -#}
{% macro spark__alter_column_comment(relation, column_dict) %}
    {%- if config.get('file_format', validator=validation.any[basestring]) != 'delta' -%}
        {{ return(dbt_spark.spark__alter_column_comment(relation, column_dict)) }}
    {%- endif -%}
    {%- set existing = {} -%}
    {%- for row in run_query('describe table ' ~ relation) -%}
        {%- if row[0] and not row[0].startswith('#') -%}
            {%- do existing.update({row[0]: row[2]}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set changes = [] -%}
    {%- for column_name in column_dict -%}
        {%- set comment = column_dict[column_name]['description'] -%}
        {%- if comment and existing.get(column_name) != comment -%}
            {%- set quoted = adapter.quote(column_name) if column_dict[column_name]['quote'] else column_name -%}
            {%- do changes.append(quoted ~ " comment '" ~ comment | replace('\\', '\\\\') | replace("'", "\\'") ~ "'") -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if changes -%}
        {%- call statement('persist_column_docs') -%}
            alter table {{ relation }} alter column {{ changes | join(', ') }}
        {%- endcall -%}
    {%- endif -%}
{% endmacro %}
