{#- Custom schemas are used verbatim (`gold`, `public`), not prefixed with the
    target schema: the lake's databases are its layers (standard §5). -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ (custom_schema_name or target.schema) | trim }}
{%- endmacro %}
