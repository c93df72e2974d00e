"""Backtest arithmetic: AUC with a bootstrap interval, hand scores of training rows."""

from __future__ import annotations

from datetime import date

import numpy as np

from jobs.risk.backtest import auc_interval, hand_scores, rank_auc
from jobs.risk.config import load_risk_config


def test_auc_and_its_bootstrap_interval():
    y = np.array([False, False, True, True, False, True] * 20)
    perfect = np.where(y, 2.0, 1.0)
    assert rank_auc(perfect, y) == 1.0 and rank_auc(-perfect, y) == 0.0
    rng = np.random.default_rng(3)
    noisy = perfect + rng.normal(0, 0.8, len(y))
    auc, low, high = auc_interval(noisy, y)
    assert low <= auc <= high and 0.5 < auc < 1.0 and high - low < 0.4
    assert np.isnan(rank_auc(perfect, np.ones(len(y), dtype=bool)))


def test_hand_scores_read_each_rows_own_indicator_values(spark):
    cfg = load_risk_config()
    codes = [i.code for i in cfg.indicators]
    columns = "inspection_id string, entity_id string, inspection_date date, cut_date date, problem_found boolean, " \
        + ", ".join(f"{c} double" for c in codes)

    def row(no: str, **values: float):
        return (no, "E1", date(2024, 3, 10), date(2024, 2, 29), True, *[values.get(c) for c in codes])

    rows = spark.createDataFrame([row("clean"), row("penalised", REG0101=3.0, REG0103=1.0)], columns)
    scores = {r.inspection_id: r for r in hand_scores(rows, cfg).collect()}
    assert scores["penalised"].risk_score > scores["clean"].risk_score
    assert scores["clean"].band_class == "A"
