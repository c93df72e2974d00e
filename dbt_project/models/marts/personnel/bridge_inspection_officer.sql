-- Which officers carried out which inspection (检查人员), from the certificate
-- numbers on the inspection result; `is_known_officer` says whether the
-- personnel register holds the certificate.

with

inspections as (

    select * from {{ ref('fct_inspection') }}

),

officers as (

    select cert_no from {{ ref('dim_officer') }}
    where is_current

),

assignments as (

    select distinct
        inspections.inspection_id,
        cert.cert_no,
        inspections.inspection_date,
        inspections.department_code

    from inspections

        lateral view explode(inspections.inspector_cert_nos) cert as cert_no

),

final as (

    select
        assignments.*,
        officers.cert_no is not null as is_known_officer

    from assignments

    left join officers
        on officers.cert_no = assignments.cert_no

)

select * from final
