{#- The combination of `columns` is unique (no dbt_utils here: hub.getdbt.com is not reachable). -#}
{% test unique_combination_of_columns(model, columns) %}

select {{ columns | join(', ') }}, count(*) as copies
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1

{% endtest %}
