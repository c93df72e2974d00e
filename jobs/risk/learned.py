"""A learned risk scorecard: monotone bins, weight of evidence, logistic regression (optbinning).

Fitted on the point-in-time rows of `training.py` (random inspections, indicators as of the
month end before each). Each indicator is binned with a monotone trend (the risk of a bin
never reverses as the indicator grows), the bins' weights of evidence feed a logistic
regression, and the result is scaled to points on the 0-1000 scale, higher = riskier, as
the hand weights are — so an enterprise's explanation still names indicators and their
points.

Points are rescaled so that each indicator's safest bin earns 0 and the riskiest possible
profile scores `max_score`: an enterprise's points then say how far each indicator moves it
from the safest profile, which is what its explanation names.

The model is data, not code: `ScorecardModel.table` holds one row per (indicator, bin) with
its bounds and points, versioned in the lake (jobs/risk/model.py) and applied without
optbinning. When history is too thin (fewer than `min_events` problem-found or problem-free
inspections) `fit_scorecard` returns None and the hand weights stay in force.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

LABEL = "problem_found"
TABLE_COLUMNS = ("indicator_code", "bin_no", "lower", "upper", "is_missing", "points", "count", "event_rate", "woe")


@dataclass(frozen=True)
class ScorecardModel:
    """A fitted scorecard: its bins and points, and what it was fitted on."""

    version: str
    table: pd.DataFrame      # TABLE_COLUMNS; lower inclusive, upper exclusive; is_missing: the null bin
    indicators: tuple[str, ...]
    rows: int
    events: int
    auc_in_sample: float
    cutoffs: tuple[float, float, float] | None = None   # scores where B, C, D start (calibrate_cutoffs)


def too_thin(events: int, rows: int, min_events: int) -> bool:
    """Fewer problem-found, or fewer problem-free, inspections than `min_events`."""
    return min(events, rows - events) < min_events


def fit_scorecard(rows: pd.DataFrame, codes: list[str], version: str, *, min_events: int = 50,
                  min_iv: float = 0.02, missing_is_zero: frozenset[str] = frozenset(),
                  max_score: float = 1000.0) -> ScorecardModel | None:
    """Fit on training rows (`training.training_rows` as pandas); None when history is too thin.

    `missing_is_zero`: indicators whose null means "none happened" (counts), filled with 0.
    Indicators with an information value below `min_iv` get no points (they do not separate).
    """
    from optbinning import BinningProcess, Scorecard
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    y = rows[LABEL].astype(int).to_numpy()
    events = int(y.sum())
    if too_thin(events, len(y), min_events):
        return None
    features = rows[codes].astype(float)
    for code in missing_is_zero & set(codes):
        features[code] = features[code].fillna(0.0)
    usable = [c for c in codes if features[c].nunique(dropna=True) > 1]
    if not usable:
        return None
    process = BinningProcess(
        variable_names=usable,
        binning_fit_params={c: {"monotonic_trend": "auto_asc_desc"} for c in usable},
        selection_criteria={"iv": {"min": min_iv}},
    )
    card = Scorecard(binning_process=process, estimator=LogisticRegression(max_iter=1000),
                     scaling_method="min_max", scaling_method_params={"min": 0, "max": 1000},
                     reverse_scorecard=True)
    card.fit(features[usable], y)
    detailed = card.table(style="detailed")
    selected = tuple(detailed["Variable"].unique())
    fitted = card.binning_process_  # the Scorecard fits a copy of the process
    table = _rescaled(pd.concat([_bins(fitted.get_binned_variable(code), detailed[detailed["Variable"] == code], code)
                                 for code in selected], ignore_index=True), max_score)
    auc = float(roc_auc_score(y, card.score(features[usable])))
    return ScorecardModel(version=version, table=table, indicators=selected, rows=len(y), events=events,
                          auc_in_sample=round(auc, 4))


def _bins(binned, rows: pd.DataFrame, code: str) -> pd.DataFrame:
    """One indicator's bins with numeric bounds (optbinning's splits) and points; Special dropped."""
    splits = [float(s) for s in binned.splits]
    bounds = list(zip([-math.inf, *splits], [*splits, math.inf], strict=True))
    regular = rows.iloc[:len(bounds)]
    missing = rows[rows["Bin"] == "Missing"]
    out = pd.DataFrame({
        "indicator_code": code, "bin_no": range(len(bounds)),
        "lower": [b[0] for b in bounds], "upper": [b[1] for b in bounds], "is_missing": False,
        "points": regular["Points"].to_numpy(), "count": regular["Count"].to_numpy(),
        "event_rate": regular["Event rate"].to_numpy(), "woe": regular["WoE"].to_numpy(),
    })
    null_bin = pd.DataFrame({
        "indicator_code": [code], "bin_no": [len(bounds)], "lower": [np.nan], "upper": [np.nan], "is_missing": [True],
        "points": missing["Points"].to_numpy()[:1], "count": missing["Count"].to_numpy()[:1],
        "event_rate": missing["Event rate"].to_numpy()[:1], "woe": missing["WoE"].to_numpy()[:1],
    })
    return pd.concat([out, null_bin], ignore_index=True)[list(TABLE_COLUMNS)]


def _rescaled(table: pd.DataFrame, max_score: float) -> pd.DataFrame:
    """Each indicator's safest bin at 0 points, the riskiest profile at `max_score`.

    A bin no training row fell in (typically the null bin of a count) is given the safest
    bin's points: no evidence earns no points.
    """
    table = table.copy()
    seen = table["count"].fillna(0) > 0
    low = table[seen].groupby("indicator_code")["points"].min()
    table.loc[~seen, "points"] = table.loc[~seen, "indicator_code"].map(low)
    table["points"] = table["points"] - table["indicator_code"].map(low)
    spread = float(table.groupby("indicator_code")["points"].max().sum())
    table["points"] = (table["points"] * (max_score / spread if spread > 0 else 0.0)).round(2)
    return table


def calibrate_cutoffs(scores: np.ndarray, target_shares: dict[str, float]) -> tuple[float, float, float]:
    """The scores at which B, C and D start so that `scores` fall in the classes at the target shares.

    Equal scores share a class, so each cut-off is the score value that puts the number of
    scores below it closest to the class's cumulative target.
    """
    ordered = np.sort(np.asarray(scores, dtype=float))
    candidates = np.append(np.unique(ordered), math.inf)
    below = np.searchsorted(ordered, candidates, side="left")   # scores under each candidate
    cutoffs, cumulative = [], 0.0
    for risk_class in ("A", "B", "C"):
        cumulative += target_shares[risk_class]
        cut = float(candidates[int(np.argmin(np.abs(below - cumulative * len(ordered))))])
        cutoffs.append(max(cut, cutoffs[-1]) if cutoffs else cut)
    return tuple(cutoffs)


def indicator_points(model: ScorecardModel, rows: pd.DataFrame,
                     missing_is_zero: frozenset[str] = frozenset()) -> pd.DataFrame:
    """Points per row and indicator (columns = the model's indicators) from the model's table alone."""
    out = pd.DataFrame(index=rows.index)
    for code in model.indicators:
        bins = model.table[model.table["indicator_code"] == code]
        values = rows[code].astype(float)
        if code in missing_is_zero:
            values = values.fillna(0.0)
        regular = bins[~bins["is_missing"]]
        # bin = the last whose lower bound <= value (bounds ascending; the first is -inf)
        index = np.searchsorted(regular["lower"].to_numpy(), values.fillna(0.0).to_numpy(), side="right") - 1
        points = regular["points"].to_numpy()[np.clip(index, 0, len(regular) - 1)]
        missing_points = float(bins.loc[bins["is_missing"], "points"].iloc[0])
        out[code] = np.where(values.isna(), missing_points, points)
    return out


def score(model: ScorecardModel, rows: pd.DataFrame, missing_is_zero: frozenset[str] = frozenset()) -> pd.Series:
    """The 0-1000 risk score (higher = riskier): the sum of the indicators' points."""
    return indicator_points(model, rows, missing_is_zero).sum(axis=1)
