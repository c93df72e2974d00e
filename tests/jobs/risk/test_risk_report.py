"""The validation report's arithmetic (pandas only)."""

from __future__ import annotations

import pandas as pd
import pytest

from synth.scoring.risk_report import hit_rates, rank_auc, strictly_monotone


def test_rank_auc_counts_ties_half():
    assert rank_auc(pd.Series([1.0, 2.0, 3.0, 4.0]), pd.Series([False, False, True, True])) == 1.0
    assert rank_auc(pd.Series([4.0, 3.0, 2.0, 1.0]), pd.Series([False, False, True, True])) == 0.0
    assert rank_auc(pd.Series([1.0, 1.0]), pd.Series([False, True])) == 0.5


def test_hit_rates_and_monotonicity():
    inspected = pd.DataFrame({"entity_id": ["a", "b", "c", "d", "d"], "risk_class": ["A", "B", "C", "D", "D"],
                              "problem_found": [False, False, True, True, True]})
    rates = hit_rates(inspected)
    assert rates["inspections"].tolist() == [1, 1, 1, 2] and rates.loc["D", "enterprises"] == 1
    assert not strictly_monotone(rates["rate"])       # A = B = 0
    assert strictly_monotone(pd.Series([0.0, 0.4, 0.5, 0.9]))
    assert not strictly_monotone(pd.Series([0.0, 0.4, float("nan"), 0.9]))


@pytest.mark.parametrize("empty", [[True, True], [False, False]])
def test_rank_auc_needs_both_outcomes(empty):
    assert pd.isna(rank_auc(pd.Series([1.0, 2.0]), pd.Series(empty)))


def test_each_veto_is_rated_beside_the_scored_classes():
    from synth.scoring.risk_report import veto_rates

    inspected = pd.DataFrame({
        "entity_id": ["a", "b", "c", "d", "e", "e"],
        "risk_class": ["A", "C", "D", "D", "D", "D"],
        "veto_reason": [None, None, None, "失信被执行人", "失信被执行人", "失信被执行人"],
        "problem_found": [False, True, True, False, True, False]})
    rates = veto_rates(inspected)
    assert rates.loc["C (scored)", "rate"] == 1.0 and rates.loc["D (scored)", "inspections"] == 1
    veto = rates.loc["D (veto: 失信被执行人)"]
    assert (veto["inspections"], veto["enterprises"], veto["problems"]) == (3, 2, 1)
    assert veto["rate"] < rates.loc["C (scored)", "rate"]  # the veto's D finds fewer problems than scored C
