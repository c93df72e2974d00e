{#- A person's id: sha2 of the lake's secret salt and the person's key (`ric:<RIC>` or
    `name:<name>@<USCC>`), see regulake/person_id.py. Every model that computes person_id
    calls this macro, so the court's debtors and the legal representatives share ids.
    The salt is the Spark session setting regulake.person_id_salt, named through Spark's
    variable substitution (jobs/dbt/job.py sets it for the build): the secret never appears
    in the compiled SQL. A build without it fails instead of computing guessable ids. -#}
{% macro person_id(person_key) -%}
    case
        when {{ person_key }} is null then null
        when char_length('${regulake.person_id_salt}') < 32  -- unset: '' (or the name itself, substitution off)
          or '${regulake.person_id_salt}' like '$%'
            then raise_error('person_id: the Spark setting regulake.person_id_salt is not set (run dbt through regulake)')
        else sha2(concat('${regulake.person_id_salt}', '|', {{ person_key }}), 256)
    end
{%- endmacro %}
