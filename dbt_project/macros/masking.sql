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
