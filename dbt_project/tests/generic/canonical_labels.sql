{#- Enum columns hold only their canonical labels and list columns only allowed
    items (standard §4; silver maps codes to labels). One query per model:
    `enums` and `lists` map column -> allowed values. Nulls are allowed. -#}
{% test canonical_labels(model, enums={}, lists={}) %}

{%- set checks = [] -%}
{%- for column, values in enums.items() -%}
    {%- set allowed = values | map('string') | map('replace', "'", "\\'") | join("', '") -%}
    {%- do checks.append(
        "select '" ~ column ~ "' as column_name, cast(" ~ column ~ " as string) as failing_value from "
        ~ model ~ " where " ~ column ~ " not in ('" ~ allowed ~ "')"
    ) -%}
{%- endfor -%}
{%- for column, values in lists.items() -%}
    {%- set allowed = values | map('string') | map('replace', "'", "\\'") | join("', '") -%}
    {%- do checks.append(
        "select '" ~ column ~ "' as column_name, array_join(" ~ column ~ ", ';') as failing_value from "
        ~ model ~ " where exists(" ~ column ~ ", item -> item is null or item not in ('" ~ allowed ~ "'))"
    ) -%}
{%- endfor -%}

{{ checks | join('\nunion all\n') if checks else 'select null as column_name, null as failing_value where false' }}

{% endtest %}
