"""Monthly history: transitions to the previous class, and the red / yellow / blue warnings."""

from __future__ import annotations

from datetime import date, datetime

from pyspark.testing import assertDataFrameEqual

from jobs.risk.config import load_risk_config
from jobs.risk.history import with_transitions
from jobs.risk.warnings import complaint_surges, risk_warnings

from .helpers import gold

AS_OF = date(2024, 3, 31)
PREVIOUS = date(2024, 2, 29)
CLASS_ROW = "entity_id string, as_of_date date, risk_score double, risk_class string, veto_reason string"


def classes(spark, rows, as_of=AS_OF):
    return spark.createDataFrame([(e, as_of, s, c, v) for e, s, c, v in rows], CLASS_ROW)


def test_transitions_take_the_latest_earlier_class(spark):
    history = classes(spark, [("E1", 100.0, "A", None), ("E2", 600.0, "C", None)], date(2024, 1, 31)).unionByName(
        classes(spark, [("E1", 300.0, "B", None)], PREVIOUS)).unionByName(
        classes(spark, [("E1", 900.0, "D", None)], date(2024, 4, 30)))   # a later run does not count
    now = classes(spark, [("E1", 800.0, "D", None), ("E2", 100.0, "A", None), ("E3", 10.0, "A", None)])
    result = with_transitions(now, history, AS_OF).select(
        "entity_id", "previous_as_of_date", "previous_class", "class_change")
    assertDataFrameEqual(result, spark.createDataFrame(
        [("E1", PREVIOUS, "B", 2), ("E2", date(2024, 1, 31), "C", -2), ("E3", None, None, None)],
        "entity_id string, previous_as_of_date date, previous_class string, class_change int"))


def test_first_run_has_no_previous_class(spark):
    now = classes(spark, [("E1", 10.0, "A", None)])
    result = with_transitions(now, None, AS_OF)
    assert result.select("previous_class", "class_change").first() == (None, None)


def ticket(ticket_id, entity_id, received, substantiated=True):
    return {"ticket_id": ticket_id, "entity_id": entity_id, "is_complaint": True,
            "is_substantiated": substantiated, "received_at": received}


def test_each_warning_colour_with_its_reason(spark):
    cfg = load_risk_config()
    history = classes(spark, [("E1", 100.0, "A", None), ("E2", 300.0, "B", None), ("E3", 300.0, "B", None),
                              ("E4", 900.0, "D", "失信被执行人记录未移除"), ("E5", 100.0, "A", None)], PREVIOUS)
    now = with_transitions(classes(spark, [
        ("E1", 600.0, "C", None),                           # A -> C: two classes up -> yellow
        ("E2", 300.0, "D", "失信被执行人记录未移除"),          # new veto (and B -> D) -> red + yellow
        ("E3", 300.0, "B", None),                           # complaint surge -> blue
        ("E4", 900.0, "D", "失信被执行人记录未移除"),          # veto already known: nothing
        ("E5", 300.0, "B", None),                           # one class up: nothing
    ]), history, AS_OF)
    tickets = [ticket(f"T{i}", "E3", datetime(2024, 3, 10 + i)) for i in range(3)]
    tickets += [ticket("T9", "E3", datetime(2023, 12, 1)), ticket("T8", "E5", datetime(2024, 3, 20), False)]
    tickets += [ticket(f"U{i}", "E5", datetime(2024, 3, 10 + i)) for i in range(3)]
    tickets += [ticket(f"V{i}", "E5", datetime(2024, 1, 1 + i)) for i in range(12)]  # steady: 12 in the 180 days before
    surges = complaint_surges(gold(spark, fct_hotline_ticket=tickets), AS_OF, cfg.warning("complaint_surge"))
    warnings = risk_warnings(now, surges, cfg).select("entity_id", "warning_level", "warning_code", "reason")
    assertDataFrameEqual(warnings, spark.createDataFrame([
        ("E1", "yellow", "class_jump", "风险类别由A类升至C类(跨2级)"),
        ("E2", "red", "new_veto", "新增一票否决:失信被执行人记录未移除"),
        ("E2", "yellow", "class_jump", "风险类别由B类升至D类(跨2级)"),
        ("E3", "blue", "complaint_surge", "近30天属实投诉举报3件(此前月均0.17)"),
    ], "entity_id string, warning_level string, warning_code string, reason string"))


def test_warning_ids_are_stable(spark):
    cfg = load_risk_config()
    now = with_transitions(classes(spark, [("E1", 800.0, "D", "x")]), None, AS_OF)
    first = risk_warnings(now, None, cfg).select("warning_id").collect()
    again = risk_warnings(now, None, cfg).select("warning_id").collect()
    assert first == again and len(first) == 1
