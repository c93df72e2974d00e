{#- Meanings the standard (§4) gives to canonical labels, in one place. -#}

{#- samr_inspection: "A problem found is result 2, 3, 5 or 6." -#}
{% macro problem_found_results() -%}
    ('发现问题已责令改正', '发现问题待后续处理', '不配合检查情节严重', '通过登记的住所或经营场所无法联系')
{%- endmacro %}

{#- samr_penalty: a penalty whose latest version is 撤销 or 删除 no longer counts; empty = 正常. -#}
{% macro publicity_status(column) -%}
    coalesce({{ column }}, '正常')
{%- endmacro %}

{% macro withdrawn_publicity_statuses() -%}
    ('撤销', '删除')
{%- endmacro %}
