"""The learned scorecard: monotone points from history, applied from its table alone, None when thin."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jobs.risk.learned import TABLE_COLUMNS, calibrate_cutoffs, fit_scorecard, indicator_points, score
from jobs.risk.training import LABEL

COUNTS = frozenset({"PEN", "NOISE"})


def _history(n: int, seed: int) -> pd.DataFrame:
    """Penalties drive problems; NOISE does not; CAP (registered capital) is missing for some."""
    rng = np.random.default_rng(seed)
    penalties = rng.poisson(0.6, n).astype(float)
    capital = rng.exponential(100.0, n)
    capital[rng.random(n) < 0.2] = np.nan
    risk = 1 / (1 + np.exp(-(-1.2 + 0.9 * penalties)))
    frame = pd.DataFrame({"PEN": np.where(penalties > 0, penalties, np.nan),  # no penalty: no row, null
                          "NOISE": rng.poisson(1.0, n).astype(float), "CAP": capital})
    frame[LABEL] = rng.random(n) < risk
    return frame


@pytest.fixture(scope="module")
def model():
    return fit_scorecard(_history(4000, 1), ["PEN", "NOISE", "CAP"], "test-1", missing_is_zero=COUNTS)


def test_points_rise_with_the_risk_driver_and_noise_earns_none(model):
    assert model is not None and model.version == "test-1" and model.rows == 4000
    assert "PEN" in model.indicators and "NOISE" not in model.indicators  # below the IV threshold
    assert list(model.table.columns) == list(TABLE_COLUMNS)
    pen = model.table[(model.table.indicator_code == "PEN") & ~model.table.is_missing].sort_values("bin_no")
    assert len(pen) >= 2 and pen["points"].is_monotonic_increasing and pen["points"].iloc[-1] > pen["points"].iloc[0]


def test_out_of_sample_auc_comes_from_the_table_alone(model):
    from sklearn.metrics import roc_auc_score

    later = _history(3000, 2)
    auc = roc_auc_score(later[LABEL], score(model, later, COUNTS))
    assert auc > 0.65, auc
    points = indicator_points(model, later, COUNTS)
    assert list(points.columns) == list(model.indicators)
    # more penalties never earn fewer points
    by_penalties = points.assign(pen=later["PEN"].fillna(0)).groupby("pen")["PEN"].mean()
    assert by_penalties.is_monotonic_increasing


def test_thin_history_keeps_the_hand_weights():
    assert fit_scorecard(_history(60, 3), ["PEN", "NOISE", "CAP"], "thin", missing_is_zero=COUNTS) is None


def test_safest_bin_earns_nothing_and_the_riskiest_profile_scores_the_maximum(model):
    table = model.table
    assert (table.groupby("indicator_code")["points"].min() == 0).all()
    assert abs(table.groupby("indicator_code")["points"].max().sum() - 1000) < 0.1


TARGETS = {"A": 0.5, "B": 0.4, "C": 0.06, "D": 0.04}


def _shares(scores, cutoffs):
    classes = np.searchsorted(np.asarray(cutoffs), scores, side="right")
    return np.bincount(classes, minlength=4) / len(scores)


def test_cutoffs_give_the_target_shares():
    scores = np.random.default_rng(4).gamma(2.0, 50.0, 10_000)
    cutoffs = calibrate_cutoffs(scores, TARGETS)
    assert np.allclose(_shares(scores, cutoffs), [0.5, 0.4, 0.06, 0.04], atol=0.002)
    assert calibrate_cutoffs(scores, {"A": 0.9, "B": 0.1, "C": 0.0, "D": 0.0})[2] == np.inf   # no D wanted


def test_tied_scores_share_a_class_at_the_nearest_cutoff():
    scores = np.array([0.0] * 600 + list(np.linspace(1, 100, 400)))   # 60 % tied at zero
    cutoffs = calibrate_cutoffs(scores, TARGETS)
    shares = _shares(scores, cutoffs)
    assert cutoffs[0] > 0 and shares[0] == 0.6          # all the tied zeros in A: nearest to 50 %
    assert abs(shares[0] + shares[1] - 0.9) < 0.01
