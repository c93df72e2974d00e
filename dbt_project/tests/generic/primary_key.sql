{#- The column identifies a row: never null, never repeated (unique + not_null in one query). -#}
{% test primary_key(model, column_name) %}

select {{ column_name }} as key_value, count(*) as copies
from {{ model }}
group by {{ column_name }}
having count(*) > 1 or {{ column_name }} is null

{% endtest %}
