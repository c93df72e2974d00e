with

source as (

    select * from {{ source_or_empty(source('coop', 'coop_task_event')) }}

),

renamed as (

    select

        ---------- ids
        {{ record_version_id('coop', 'coop_task_event') }} as record_version_id,
        _record_key as record_key,
        event_id,
        task_id,
        subject_uscc,
        matter_code,

        ---------- strings
        event_type,
        from_dept,
        to_dept,
        note,

        ---------- dates
        event_at,
        deadline,

        {{ silver_version_columns() }}

    from source

)

select * from renamed
