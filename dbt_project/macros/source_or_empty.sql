{#- A source relation, or an empty relation with its documented columns when the
    table does not exist yet (a feed no department has delivered, linking not run):
    the themes still build, with no rows from that source. Column types come from
    the source's `data_type` (generated from schemas/ by jobs/dbt/sources.py). -#}
{% macro source_or_empty(relation) -%}
    {%- if not execute or relation.schema is none -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- set found = run_query("show tables in " ~ relation.schema ~ " like '" ~ relation.identifier ~ "'") -%}
    {%- if found.rows | length > 0 -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- set node = graph.sources.values()
        | selectattr('schema', 'equalto', relation.schema)
        | selectattr('identifier', 'equalto', relation.identifier) | first -%}
    {%- do log("source " ~ relation ~ " does not exist yet: reading no rows from it", info=True) -%}
    {%- set columns = [] -%}
    {%- for column in node.columns.values() -%}
        {%- do columns.append("cast(null as " ~ column.data_type ~ ") as " ~ column.name) -%}
    {%- endfor -%}
    {{ return("(select " ~ columns | join(", ") ~ " where false)") }}
{%- endmacro %}
