"""Veto rules: each forces D with its reason; what does not count does not veto."""

from __future__ import annotations

from datetime import date, datetime

from pyspark.testing import assertDataFrameEqual

from jobs.risk.config import load_risk_config
from jobs.risk.veto import apply_vetoes, veto_matches

from .helpers import gold

AS_OF = date(2024, 3, 31)
DISHONEST = "失信被执行人记录未移除"
SERIOUS = "近3年受到情节严重的行政处罚且未撤销"


def court(record_id, entity_id, *, natural=False, published=date(2023, 6, 1), status="全部未履行", removed=None):
    return {"record_id": record_id, "entity_id": entity_id, "is_natural_person": natural, "person_id": None,
            "publish_date": published, "performance_status": status, "removed_date": removed}


def penalty(decision_no, entity_id, *, serious=True, decided=date(2023, 1, 10), effective=True, status_since=None):
    return {"decision_no": decision_no, "entity_id": entity_id, "severity": "严重" if serious else "一般",
            "is_serious": serious, "decision_date": decided, "is_effective": effective,
            "publicity_status_since": status_since}


def matches(spark, **tables):
    cfg = load_risk_config()
    return veto_matches(gold(spark, **tables), AS_OF, cfg.vetoes)


def expected(spark, rows):
    return spark.createDataFrame(rows, "entity_id string, veto_reason string, veto_class string")


def test_dishonest_record_not_removed_forces_d(spark):
    found = matches(spark, fct_court_dishonest=[
        court("C1", "E1"),                                           # listed, not removed
        court("C2", "E2", removed=date(2024, 1, 5)),                 # removed before as-of
        court("C3", "E3", removed=date(2024, 5, 1)),                 # removed only after as-of
        court("C4", "E4", status="已履行"),                           # fulfilled
        court("C5", "E5", natural=True),                             # the legal representative, not the company
        court("C6", "E6", published=date(2024, 4, 2)),               # published after as-of
    ])
    assertDataFrameEqual(found, expected(spark, [("E1", DISHONEST, "D"), ("E3", DISHONEST, "D")]))


def test_unrevoked_serious_penalty_in_three_years_forces_d(spark):
    found = matches(spark, fct_penalty=[
        penalty("P1", "E1"),                                                     # serious, effective
        penalty("P2", "E2", serious=False),                                      # not serious
        penalty("P3", "E3", effective=False, status_since=datetime(2023, 5, 1)),  # revoked before as-of
        penalty("P4", "E4", effective=False, status_since=datetime(2024, 5, 1)),  # revoked after as-of
        penalty("P5", "E5", decided=date(2021, 4, 1)),                           # 1,095 days before: outside
        penalty("P6", "E6", decided=date(2021, 4, 2)),                           # inside the 1,095 days
    ])
    assertDataFrameEqual(found, expected(spark, [("E1", SERIOUS, "D"), ("E4", SERIOUS, "D"), ("E6", SERIOUS, "D")]))


def test_first_rule_names_the_reason_and_veto_only_raises(spark):
    cfg = load_risk_config()
    found = matches(spark, fct_court_dishonest=[court("C1", "E1")], fct_penalty=[penalty("P1", "E1")])
    assertDataFrameEqual(found, expected(spark, [("E1", DISHONEST, "D")]))
    scored = spark.createDataFrame([("E1", 120.0, "A"), ("E2", 120.0, "A")],
                                   "entity_id string, risk_score double, band_class string")
    classed = apply_vetoes(scored, found, cfg)
    assertDataFrameEqual(
        classed.select("entity_id", "risk_score", "risk_class", "veto_reason"),
        spark.createDataFrame([("E1", 120.0, "D", DISHONEST), ("E2", 120.0, "A", None)],
                              "entity_id string, risk_score double, risk_class string, veto_reason string"),
    )
