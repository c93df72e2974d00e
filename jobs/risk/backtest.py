"""Out-of-time backtest of the risk score: train before a cut date, score the inspections after it.

For each cut date: the learned scorecard (`learned.py`) is fitted on the point-in-time rows
of random inspections in the `window_days` before the cut (`training.py`), then scores the
random inspections of the `horizon_days` after it, from their indicators as of the month end
before each. The hand-weighted score of conf/risk.yaml scores the same rows. Both get a rank
AUC with a bootstrap interval, and the hand classes their problem-found rates, so the
report says whether learning beats the hand weights out of time. Writes nothing to the lake.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.risk.config import RiskConfig
from jobs.risk.indicators import Gold
from jobs.risk.learned import fit_scorecard, score
from jobs.risk.scoring import score_enterprises
from jobs.risk.training import LABEL, training_rows

BOOTSTRAP = 200


def rank_auc(scores, outcomes) -> float:
    """P(a problem-found inspection scores above a problem-free one), ties half (arrays or Series)."""
    ranks = pd.Series(np.asarray(scores, dtype=float)).rank(method="average").to_numpy()
    pos = np.asarray(outcomes, dtype=bool)
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if not n_pos or not n_neg:
        return float("nan")
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def auc_interval(scores: np.ndarray, outcomes: np.ndarray, seed: int = 7,
                 rounds: int = BOOTSTRAP) -> tuple[float, float, float]:
    """(AUC, 2.5 %, 97.5 %) over `rounds` bootstrap resamples of the inspections."""
    rng = np.random.default_rng(seed)
    n = len(scores)
    draws = [rank_auc(scores[idx], outcomes[idx]) for idx in (rng.integers(0, n, n) for _ in range(rounds))]
    draws = [d for d in draws if not np.isnan(d)]
    low, high = (np.percentile(draws, [2.5, 97.5]) if draws else (float("nan"), float("nan")))
    return rank_auc(scores, outcomes), float(low), float(high)


def hand_scores(rows: DataFrame, cfg: RiskConfig) -> DataFrame:
    """inspection_id, risk_score, band_class of the hand weights, from the rows' own indicator values."""
    codes = [indicator.code for indicator in cfg.indicators]
    frame = rows.select(F.col("inspection_id").alias("entity_id"))
    long = rows.select(F.col("inspection_id").alias("entity_id"), F.explode(F.array(*[
        F.struct(F.lit(c).alias("indicator_code"), F.col(f"`{c}`").cast("double").alias("value")) for c in codes
    ])).alias("v")).select("entity_id", "v.indicator_code", "v.value").where(F.col("value").isNotNull())
    return score_enterprises(frame, long, cfg).select(
        F.col("entity_id").alias("inspection_id"), "risk_score", "band_class")


def backtest_cut(gold: Gold, cfg: RiskConfig, cut: date, *, random_task_types: list[str], window_days: int,
                 horizon_days: int, min_events: int = 50) -> dict:
    """The figures of one cut date (see the module docstring)."""
    codes = [indicator.code for indicator in cfg.indicators]
    # Null means "none happened" where the hand weights score a missing value as 0 (counts).
    zero = frozenset(i.code for i in cfg.indicators if not i.missing)
    train = training_rows(gold, cfg, random_task_types, cut - timedelta(days=window_days), cut).toPandas()
    later = training_rows(gold, cfg, random_task_types, cut + timedelta(days=1), cut + timedelta(days=horizon_days))
    hand = hand_scores(later, cfg)
    test = later.join(hand, "inspection_id").toPandas()
    model = fit_scorecard(train, codes, f"backtest-{cut.isoformat()}", min_events=min_events, missing_is_zero=zero)
    y = test[LABEL].astype(bool).to_numpy()
    figures = {"cut": cut.isoformat(), "train_rows": len(train), "train_events": int(train[LABEL].sum()),
               "test_rows": len(test), "test_events": int(y.sum()),
               "hand_auc": auc_interval(test["risk_score"].to_numpy(float), y) if len(test) else None,
               "learned_auc": None, "model": None if model is None else list(model.indicators)}
    if model is not None and len(test):
        figures["learned_auc"] = auc_interval(score(model, test, zero).to_numpy(float), y)
    rates = test.groupby("band_class")[LABEL].agg(["size", "sum"]) if len(test) else pd.DataFrame()
    figures["hand_class_rates"] = {k: (int(r["size"]), round(float(r["sum"]) / r["size"], 4))
                                   for k, r in rates.iterrows()}
    return figures


def render(results: list[dict], meta: dict) -> str:
    def auc(value) -> str:
        return "–" if value is None else f"{value[0]:.3f} [{value[1]:.3f}, {value[2]:.3f}]"

    lines = [
        "# Risk score: out-of-time backtest",
        "",
        f"Generated {meta['generated_at']} by `regulake risk backtest --lake {meta['lake']}` (training window "
        f"{meta['window_days']} days before each cut, scored horizon {meta['horizon_days']} days after; random "
        f"inspections only; AUC with a {BOOTSTRAP}-resample bootstrap 95 % interval).",
        "",
        "| cut | train inspections (problems) | scored inspections (problems) | hand-weights AUC | learned AUC | "
        "hand classes: inspections, problem-found rate |",
        "|---|---:|---:|---|---|---|",
    ]
    for r in results:
        classes = ", ".join(f"{k} {n} {rate:.0%}" for k, (n, rate) in sorted(r["hand_class_rates"].items()))
        lines.append(f"| {r['cut']} | {r['train_rows']} ({r['train_events']}) | {r['test_rows']} ({r['test_events']}) "
                     f"| {auc(r['hand_auc'])} | {auc(r['learned_auc'])} | {classes} |")
    lines += ["", "A learned AUC of – means the history before the cut was too thin to fit (the hand weights stay).",
              ""]
    return "\n".join(lines)

