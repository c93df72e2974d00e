{#- The date time-relative columns are computed for: var `as_of_date`, else the build date. -#}
{% macro as_of_date() -%}
    {%- set as_of = var('as_of_date', '') -%}
    {%- if as_of -%} date'{{ as_of }}' {%- else -%} current_date() {%- endif -%}
{%- endmacro %}

{#- Hours from `start` to `finish` (timestamps), null when either is null. -#}
{% macro hours_between(start, finish) -%}
    round((unix_timestamp({{ finish }}) - unix_timestamp({{ start }})) / 3600.0, 2)
{%- endmacro %}
