"""Point-in-time training rows: indicators as they stood before each random inspection, nothing later."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pytest

from jobs.risk.config import load_risk_config
from jobs.risk.training import KEY_COLUMNS, cut_before, training_rows

from .helpers import enterprise, gold


@pytest.mark.parametrize(("day", "cut"), [(date(2024, 3, 10), date(2024, 2, 29)), (date(2024, 3, 1), date(2024, 2, 29)),
                                          (date(2024, 1, 31), date(2023, 12, 31))])
def test_the_cut_is_the_last_month_end_before_the_inspection(day, cut):
    assert cut_before(day) == cut


def _penalty(no: str, entity: str, decided: date, *, effective: bool = True, since: datetime | None = None) -> dict:
    return {"decision_no": no, "entity_id": entity, "severity": "一般", "is_serious": False, "decision_date": decided,
            "is_effective": effective, "publicity_status_since": since, "fine_amount": 1000.0}


def _inspection(no: str, entity: str, day: date, found: bool, task_type: str = "双随机") -> dict:
    return {"inspection_id": no, "entity_id": entity, "task_type": task_type, "inspection_date": day,
            "is_problem_found": found, "department_code": "SCJG", "matter_code": "M1"}


def test_features_use_only_what_was_known_before_the_inspection(spark):
    marts = gold(
        spark,
        dim_enterprise=[enterprise("E1"), enterprise("E2"),
                        enterprise("E3", valid_from=datetime(2024, 3, 5, 9))],       # registered after the cut
        fct_penalty=[
            _penalty("P1", "E1", date(2024, 2, 20)),                                 # before the cut: counts
            _penalty("P2", "E1", date(2024, 3, 5)),                                  # after the cut: never
            # revoked after the inspection: still in force at the cut, so it counts then
            _penalty("P3", "E2", date(2024, 1, 15), effective=False, since=datetime(2024, 4, 1)),
        ],
        fct_inspection=[
            _inspection("I1", "E1", date(2024, 3, 10), True),
            _inspection("I2", "E1", date(2024, 2, 10), False),                       # cut 2024-01-31: P1 not yet
            _inspection("I3", "E2", date(2024, 3, 12), True),
            _inspection("I4", "E2", date(2024, 3, 12), True, task_type="投诉举报"),   # targeted: left out
            _inspection("I5", "E3", date(2024, 3, 20), False),                       # not 存续 at its cut
            _inspection("I6", "E1", date(2025, 1, 5), True),                         # outside [start, end]
        ],
    )
    rows = training_rows(marts, load_risk_config(), ["双随机"], date(2024, 1, 1), date(2024, 12, 31))
    got = {r["inspection_id"]: r for r in rows.collect()}
    assert sorted(got) == ["I1", "I2", "I3"]
    assert list(rows.columns[:len(KEY_COLUMNS)]) == list(KEY_COLUMNS)
    assert got["I1"]["cut_date"] == date(2024, 2, 29) and got["I1"]["REG0101"] == 1.0   # P1 only, not P2
    assert got["I2"]["cut_date"] == date(2024, 1, 31) and got["I2"]["REG0101"] is None  # no penalty yet
    assert got["I3"]["REG0101"] == 1.0                                                   # P3 before its revocation
    assert (got["I1"]["problem_found"], got["I2"]["problem_found"]) == (True, False)
    assert {c for c in rows.columns} >= {i.code for i in load_risk_config().indicators}


def test_before_a_feed_starts_its_counts_are_unknown_not_zero(spark):
    from jobs.risk.training import features, point_in_time_values, random_inspections

    cfg = load_risk_config()
    marts = gold(
        spark,
        dim_enterprise=[enterprise("E1"), enterprise("E2")],
        # The hotline feed's history starts in March 2024; penalties go back further.
        fct_hotline_ticket=[{"ticket_id": "T1", "entity_id": "E2", "is_complaint": True, "is_substantiated": True,
                             "received_at": datetime(2024, 3, 3, 10)}],
        fct_penalty=[_penalty("P1", "E2", date(2023, 5, 1))],
        fct_inspection=[_inspection("I1", "E1", date(2024, 3, 10), False),    # cut 2024-02-29: no hotline yet
                        _inspection("I2", "E1", date(2024, 4, 10), False)],   # cut 2024-03-31: hotline covered
    )
    inspections = random_inspections(marts["fct_inspection"], ["双随机"], date(2024, 1, 1), date(2024, 12, 31))
    values = point_in_time_values(marts, cfg, inspections).toPandas().set_index("inspection_id")
    assert "SOC0101" in values.loc["I1", "uncovered"] and "SOC0101" not in values.loc["I2", "uncovered"]
    assert "REG0101" not in values.loc["I1", "uncovered"]
    frame = features(values, cfg)
    assert np.isnan(frame.loc["I1", "SOC0101"]) and frame.loc["I2", "SOC0101"] == 0.0   # unknown, then none
    assert frame.loc["I1", "REG0101"] == 0.0                                           # covered, no penalty
