{#- Masks for the public layer: personal data never leaves gold unmasked. -#}

{#- Resident identity card number: first 4 and last 4 characters kept, e.g.
    410105199001011234 -> 4101**********1234. -#}
{% macro mask_ric(column) -%}
    case
        when {{ column }} is null then null
        when char_length({{ column }}) <= 8 then repeat('*', char_length({{ column }}))
        else concat(substr({{ column }}, 1, 4), repeat('*', char_length({{ column }}) - 8), substr({{ column }}, -4))
    end
{%- endmacro %}

{#- A person's name: the family name (first character) kept, e.g. 张三 -> 张*, 欧阳娜娜 -> 欧***. -#}
{% macro mask_name(column) -%}
    case
        when {{ column }} is null then null
        else concat(substr({{ column }}, 1, 1), repeat('*', greatest(char_length({{ column }}) - 1, 1)))
    end
{%- endmacro %}

{#- True when a value has the shape of a resident identity card number (standard §3: 17 digits
    + digit/X), whatever the column or the record says it is: a RIC delivered where a USCC was
    expected (a 法人 debtor that is in fact a person) is still personal data. An all-digit USCC
    has that shape too and is masked with it (over-masking, never a leak). -#}
{% macro is_ric_shaped(column) -%}
    coalesce({{ column }} rlike '^[0-9]{17}[0-9Xx]$', false)
{%- endmacro %}
