"""Tiny hand-built gold marts for the risk tests: only the columns the risk job reads."""

from __future__ import annotations

from datetime import date, datetime

SCHEMAS = {
    "dim_enterprise": "entity_id string, ent_name string, ent_type string, status string, region_code string, "
                      "industry_code string, establish_date date, valid_from timestamp, valid_to timestamp, "
                      "is_current boolean, version_no bigint, key_field string, reg_capital double, address string",
    "fct_penalty": "decision_no string, entity_id string, severity string, is_serious boolean, decision_date date, "
                   "is_effective boolean, publicity_status_since timestamp, fine_amount double, "
                   "confiscated_amount double, matter_code string",
    "fct_inspection": "inspection_id string, entity_id string, task_type string, matter_code string, "
                      "department_code string, is_problem_found boolean, inspection_date date, rectified_date date, "
                      "rectification_due_date date, inspector_cert_nos array<string>",
    "fct_abnormal_listing": "record_id string, entity_id string, reason string, listed_date date, removed_date date",
    "fct_license": "license_no string, entity_id string, license_type string, status string, issue_date date, "
                   "valid_until date, updated_at timestamp",
    "fct_tax_credit": "tax_credit_key string, entity_id string, eval_year string, credit_grade string, "
                      "has_arrears boolean, arrears_amount double, updated_date date",
    "fct_social_insurance_arrears": "arrears_key string, entity_id string, period string, period_start_date date, "
                                    "arrears_amount double, has_arrears boolean",
    "fct_court_dishonest": "record_id string, entity_id string, is_natural_person boolean, person_id string, "
                           "publish_date date, performance_status string, removed_date date",
    "fct_hotline_ticket": "ticket_id string, entity_id string, is_complaint boolean, is_substantiated boolean, "
                          "received_at timestamp",
    "fct_sentiment_mention": "mention_key string, item_id string, entity_id string, is_negative boolean, "
                             "heat double, published_at timestamp",
    "fct_env_penalty": "case_no string, entity_id string, is_serious boolean, decision_date date",
    "bridge_enterprise_person": "entity_id string, person_id string, role string",
    "dim_person": "person_id string, person_ric string",
    "dim_officer": "cert_no string, dept_code string, region_code string, officer_ric string, status string, "
                   "is_on_duty boolean, valid_from timestamp, valid_to timestamp, is_current boolean, "
                   "is_on_roster boolean",
    "dim_matter": "matter_code string, department_code string, methods array<string>, "
                  "object_types array<string>, is_listed boolean",
}


def table(spark, name: str, rows: list[dict]):
    """A mart DataFrame from partial rows (absent columns are null)."""
    columns = [part.strip().split(" ")[0] for part in SCHEMAS[name].split(", ")]
    return spark.createDataFrame([tuple(row.get(c) for c in columns) for row in rows], SCHEMAS[name])


def gold(spark, **rows: list[dict]) -> dict:
    """Every mart (empty unless given) as the job's `gold` mapping."""
    return {name: table(spark, name, rows.get(name, [])) for name in SCHEMAS}


def enterprise(entity_id: str, *, status: str = "存续", region: str = "410105", established: date = date(2010, 1, 1),
               valid_from: datetime = datetime(2010, 1, 1, 9), valid_to: datetime | None = None, version: int = 1,
               ent_type: str = "股份有限公司", key_field: str | None = None, capital: float = 5000.0,
               name: str | None = None, address: str = "郑州市金水路1号", industry: str = "F51") -> dict:
    return {"entity_id": entity_id, "ent_name": name or f"{entity_id}公司", "ent_type": ent_type, "status": status,
            "region_code": region, "industry_code": industry, "establish_date": established,
            "valid_from": valid_from, "valid_to": valid_to, "is_current": valid_to is None, "version_no": version,
            "key_field": key_field, "reg_capital": capital, "address": address}


def officer(cert_no: str, dept: str = "SCJG", region: str = "410105", *, ric: str | None = None,
            status: str = "在岗") -> dict:
    return {"cert_no": cert_no, "dept_code": dept, "region_code": region, "officer_ric": ric or f"RIC{cert_no}",
            "status": status, "is_on_duty": status == "在岗", "valid_from": datetime(2020, 1, 1),
            "valid_to": None, "is_current": True, "is_on_roster": True}
