"""The learned scorecard: monotone points from history, applied from its table alone, None when thin."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jobs.risk.learned import TABLE_COLUMNS, fit_scorecard, indicator_points, score
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
