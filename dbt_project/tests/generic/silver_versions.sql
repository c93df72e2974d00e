{#- Silver's versioning contract, on a staging model: each version once
    (record_version_id unique, not null) and at most one current version per key. -#}
{% test silver_versions(model, version_id='record_version_id', key='record_key', current='is_current') %}

select 'version_id' as broken_rule, {{ version_id }} as value, count(*) as rows_found
from {{ model }}
group by {{ version_id }}
having count(*) > 1 or {{ version_id }} is null

union all

select 'one_current_per_key' as broken_rule, {{ key }} as value, count(*) as rows_found
from {{ model }}
where {{ current }}
group by {{ key }}
having count(*) > 1

{% endtest %}
