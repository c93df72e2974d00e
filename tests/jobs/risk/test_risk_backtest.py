"""Backtest arithmetic: AUC with a bootstrap interval, class rates with vetoes apart, lift, rendering."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from jobs.risk.backtest import (
    FIGURES_SCHEMA,
    auc_interval,
    class_rates,
    figures_frame,
    figures_rows,
    rank_auc,
    render,
    sampling_lift,
    strictly_rising,
)


def test_auc_and_its_bootstrap_interval():
    y = np.array([False, False, True, True, False, True] * 20)
    perfect = np.where(y, 2.0, 1.0)
    assert rank_auc(perfect, y) == 1.0 and rank_auc(-perfect, y) == 0.0
    rng = np.random.default_rng(3)
    noisy = perfect + rng.normal(0, 0.8, len(y))
    auc, low, high = auc_interval(noisy, y)
    assert low <= auc <= high and 0.5 < auc < 1.0 and high - low < 0.4
    assert np.isnan(rank_auc(perfect, np.ones(len(y), dtype=bool)))


def inspected(rows):
    """(band_class, risk_class, veto_reason, problem_found) rows."""
    return pd.DataFrame(rows, columns=["band_class", "risk_class", "veto_reason", "problem_found"])


def test_vetoes_are_rated_apart_from_the_scored_classes():
    rows = inspected([("A", "A", None, False)] * 9 + [("A", "A", None, True)]
                     + [("B", "B", None, True)] * 3 + [("B", "B", None, False)]
                     + [("A", "D", "失信", False)] * 3 + [("A", "D", "失信", True)])
    rates = class_rates(rows)
    assert rates["A"] == (10, 0.1) and rates["B"] == (4, 0.75) and rates["veto: 失信"] == (4, 0.25)
    assert "D" not in rates                                      # a vetoed D is not a scored D
    assert not strictly_rising(rates)                            # C and D have no inspection
    full = {"A": (40, 0.1), "B": (40, 0.3), "C": (35, 0.5), "D": (31, 0.8)}
    assert strictly_rising(full, min_inspections=30) and not strictly_rising(full, min_inspections=32)
    assert not strictly_rising({**full, "C": (35, 0.3)})


def test_lift_of_the_class_ratios_over_a_uniform_draw():
    population = pd.Series({"A": 900, "B": 80, "C": 15, "D": 5})
    rows = inspected([("A", "A", None, False)] * 9 + [("A", "A", None, True)]
                     + [("D", "D", None, True)] * 4 + [("D", "D", None, False)])
    ratios = {"A": 0.01, "B": 0.02, "C": 0.1, "D": 0.3}
    # rates: A 0.1, D 0.8, B and C the overall 5/15; riskier classes drawn more: lift > 1
    lift = sampling_lift(population, rows, ratios)
    overall = 5 / 15
    uniform = (900 * 0.1 + 80 * overall + 15 * overall + 5 * 0.8) / 1000
    planned = 9 * 0.1 + 1.6 * overall + 1.5 * overall + 1.5 * 0.8
    assert lift == round(planned / ((9 + 1.6 + 1.5 + 1.5) * uniform), 3) and lift > 1
    assert sampling_lift(population, rows, dict.fromkeys("ABCD", 0.05)) == 1.0   # same ratio everywhere


def test_render_and_frame_carry_every_scorer_and_label(spark):
    scored = {"test_rows": 20, "test_events": 6, "auc": (0.7, 0.6, 0.8),
              "rates": {"A": (10, 0.1), "B": (6, 0.5), "veto: 失信": (4, 0.25)},
              "shares": {"A": 0.5, "B": 0.4, "C": 0.06, "D": 0.04}, "lift": 1.4, "stability": 0.91}
    results = [{"cut": "2024-01-31", "train_rows": 100, "train_events": 30, "model": ["REG0101"],
                "learned": scored, "hand": {**scored, "stability": None}},
               {"cut": "2024-02-29", "train_rows": 10, "train_events": 3, "model": None, "learned": None,
                "hand": {**scored, "stability": None, "auc": None}}]
    text = render(results, {"generated_at": "now", "lake": "/lake", "window_days": 730, "horizon_days": 90})
    assert "| 2024-01-31 | learned | 100 (30) | 20 (6) | 0.700 [0.600, 0.800] |" in text
    assert "veto: 失信 4 25%" in text and "| 91.0% |" in text
    assert "| 2024-02-29 | learned | 10 (3) | – | – (history too thin" in text
    frame = figures_frame(results, pd.Timestamp("2024-03-01"))
    assert set(frame["scorer"]) == {"learned", "hand"} and len(frame) == 9
    assert set(frame["label"]) == {"A", "B", "veto: 失信"}
    # gold.risk_backtest takes them even when a column holds no value at all (one cut: no stability)
    table = spark.createDataFrame(figures_rows(results[1:], datetime(2024, 3, 1)), FIGURES_SCHEMA)
    assert table.count() == 3 and table.where("stability IS NOT NULL OR auc IS NOT NULL").count() == 0
