{#- SCD type 2: every key has exactly one row with is_current (not zero, not two). -#}
{% test one_current_row_per_key(model, key, current_column='is_current') %}

select {{ key }}, count_if({{ current_column }}) as current_rows
from {{ model }}
group by {{ key }}
having count_if({{ current_column }}) <> 1

{% endtest %}
