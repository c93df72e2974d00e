"""A tiny gold layer for the scorecards, small enough to compute every figure by hand.

Two departments (SCJG, WJ), two prefectures (郑州 410100 holding E1 and E3, 洛阳 410300
holding E2), as of 2024-03-31. The hand computation is in test_scorecards.py.
"""

from __future__ import annotations

from datetime import date, datetime

from jobs.scorecards.job import INPUTS

AS_OF = date(2024, 3, 31)


def _d(text: str) -> date:
    return date.fromisoformat(text)


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text)


ROWS: dict[str, list[tuple]] = {
    "dim_region": [
        ("410100", "郑州市", "410100", "410000"), ("410105", "金水区", "410100", "410000"),
        ("410300", "洛阳市", "410300", "410000"), ("410302", "老城区", "410300", "410000"),
    ],
    "dim_department": [("SCJG", "市场监督管理局"), ("WJ", "卫生健康委员会")],
    "dim_enterprise": [("E1", "410105", True), ("E2", "410302", True), ("E3", "410105", True),
                       ("E2", "410105", False)],  # E2 moved: its old registration does not count
    "dim_matter": [("M1", "SCJG")],
    "enterprise_risk_class": [("E1", _d("2024-01-01"), "D"), ("E2", _d("2024-01-01"), "A"),
                              ("E3", _d("2024-01-01"), "B")],
    # inspection_id, entity_id, department_code, task_type, is_problem_found, inspection_date, rectified_date
    "fct_inspection": [
        ("I1", "E1", "SCJG", "双随机", True, _d("2024-03-05"), _d("2024-03-15")),
        ("I2", "E2", "SCJG", "双随机", False, _d("2024-03-10"), None),
        ("I3", "E3", "SCJG", "双随机", True, _d("2024-03-12"), None),
        ("I4", "E1", "SCJG", "重点", True, _d("2024-02-20"), _d("2024-03-31")),
        ("I5", "E2", "SCJG", "双随机", True, _d("2024-04-02"), None),  # after the as-of date
        ("I6", "E2", "WJ", "双随机", False, _d("2024-03-20"), None),
    ],
    # plan_id, as_of_date, entity_id, region_code, department_code, matter_code
    "inspection_plan": [
        ("P1", _d("2024-03-01"), "E1", "410105", "SCJG", "M1"),
        ("P1", _d("2024-03-01"), "E2", "410302", "SCJG", "M1"),
        ("P2", _d("2024-03-01"), "E3", "410105", "WJ", "M2"),
    ],
    # ticket_id, entity_id, is_complaint, region_code, handling_dept, satisfaction, received_at, closed_at, hours
    "fct_hotline_ticket": [
        ("T1", "E1", True, "410105", "SCJG", "满意", _t("2024-03-01 09:00"), _t("2024-03-03 09:00"), 48.0),
        ("T2", "E2", True, None, "SCJG", "不满意", _t("2024-03-02 09:00"), _t("2024-03-06 09:00"), 96.0),
        ("T3", None, True, "410302", "WJ", "未评价", _t("2024-03-03 09:00"), None, None),
        ("T4", "E1", False, "410105", "WJ", "满意", _t("2024-03-04 09:00"), _t("2024-03-04 10:00"), 1.0),
    ],
    # task_id, entity_id, current_dept, fed_back_at, deadline
    "fct_coop_task": [
        ("C1", "E1", "WJ", _t("2024-03-14 16:00"), _d("2024-03-15")),
        ("C2", "E2", "WJ", None, _d("2024-03-20")),
        ("C3", "E3", "WJ", None, _d("2024-04-10")),  # not due yet
    ],
    # decision_no, entity_id, matter_code, authority_region_code, decision_date, is_effective
    "fct_penalty": [
        ("F1", "E1", "M1", "410105", _d("2024-03-08"), True),
        ("F2", "E2", "M1", None, _d("2024-03-09"), False),
    ],
}


def gold(spark) -> dict:
    """Every input of the job, as DataFrames with the job's input schemas."""
    return {table: spark.createDataFrame(ROWS.get(table, []), ddl) for table, ddl in INPUTS.items()}


def write_lake(spark, settings, tables: list[str]) -> None:
    """Some of the same marts as Delta tables under <lake>/gold/."""
    for table, frame in gold(spark).items():
        if table in tables:
            frame.write.format("delta").mode("overwrite").save(settings.table_path("gold", table))
