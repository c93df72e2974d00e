"""Out-of-time backtest of the risk classes: train before a cut date, score the inspections after it.

For each cut date: a learned scorecard (`learned.py`) is fitted on the random inspections of
the training window before the cut, each with its indicators as of the month end before it
(`training.py`); the enterprises 存续 on the cut date are classified with it (cut-offs
calibrated to the target shares on that date, vetoes applied), and with the hand weights of
conf/risk.yaml. The random inspections of the `horizon_days` after the cut are then scored
by the class and score each enterprise had on the cut date: what the province would have
known when it drew them. Per cut and scorer:

- AUC of the score, with a bootstrap interval;
- problem-found rate per scored class (vetoes apart) and per veto, with counts;
- class shares on the cut date;
- lift: problems the 双随机 plan would find at the configured sampling ratios against a
  uniform draw of the same size;
- stability: the share of enterprises whose class is the same as on the previous cut.

`run_backtest` computes; `render` writes the markdown; `figures_frame` is the long table the
run report charts (gold.risk_backtest).
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

import numpy as np
import pandas as pd
from pyspark.sql import functions as F

from jobs.risk.config import CLASSES, RiskConfig
from jobs.risk.indicators import Gold
from jobs.risk.learned import fit_scorecard, too_thin
from jobs.risk.training import LABEL, features, point_in_time_values, random_inspections

log = logging.getLogger(__name__)
BOOTSTRAP = 200
SCORERS = ("learned", "hand")


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


def class_rates(inspected: pd.DataFrame) -> dict[str, tuple[int, float]]:
    """Scored classes (no veto) and each veto apart: (inspections, problem-found rate)."""
    label = np.where(inspected["veto_reason"].isna(), inspected["band_class"],
                     "veto: " + inspected["veto_reason"].fillna(""))
    grouped = inspected.assign(label=label).groupby("label")[LABEL].agg(["size", "mean"])
    return {str(k): (int(r["size"]), round(float(r["mean"]), 4)) for k, r in grouped.iterrows()}


def strictly_rising(rates: dict[str, tuple[int, float]], min_inspections: int = 0) -> bool:
    """Scored classes' rates rise strictly A < B < C < D, each with at least `min_inspections`."""
    scored = [rates.get(c) for c in CLASSES]
    return (all(r is not None and r[0] >= min_inspections for r in scored)
            and all(a[1] < b[1] for a, b in zip(scored, scored[1:], strict=False)))


def sampling_lift(population: pd.Series, inspected: pd.DataFrame, ratios: dict[str, float]) -> float:
    """Expected problems of the 双随机 plan (ratio per class) over a uniform draw of the same size.

    `population`: enterprises per class on the cut date; a class's problem-found rate is that
    of its inspections after the cut (the overall rate where it had none).
    """
    overall = float(inspected[LABEL].mean())
    rates = inspected.groupby("risk_class")[LABEL].mean().reindex(list(CLASSES)).fillna(overall)
    counts = population.reindex(list(CLASSES)).fillna(0)
    drawn = sum(float(ratios[c]) * counts[c] for c in CLASSES)
    uniform_rate = float((counts * rates).sum() / counts.sum())
    planned = sum(float(ratios[c]) * counts[c] * rates[c] for c in CLASSES)
    return round(planned / (drawn * uniform_rate), 3) if drawn and uniform_rate else float("nan")


def _events(inspections: pd.DataFrame, cut: date, window_days: int) -> tuple[int, int]:
    """(problem-found, all) random inspections of the training window before `cut`."""
    window = inspections[(inspections["inspection_date"] > cut - timedelta(days=window_days))
                         & (inspections["inspection_date"] <= cut)]
    return int(window[LABEL].sum()), len(window)


def run_backtest(gold: Gold, cfg: RiskConfig, cuts: list[date], *, window_days: int, horizon_days: int) -> list[dict]:
    """The figures of each cut date (module docstring), in cut order."""
    from jobs.risk.job import classify

    cuts = sorted(cuts)
    types = list(cfg.model.random_task_types)
    inspections = random_inspections(gold["fct_inspection"], types, cuts[0] - timedelta(days=window_days),
                                     cuts[-1] + timedelta(days=horizon_days)).cache()
    codes = [indicator.code for indicator in cfg.indicators]
    later_all = inspections.select("inspection_id", "entity_id", "inspection_date", LABEL).toPandas()
    windows = {cut: _events(later_all, cut, window_days) for cut in cuts}   # (problem-found, all) per cut
    fittable = [cut for cut in cuts if not too_thin(*windows[cut], cfg.model.min_events)]
    history = later_all.iloc[:0].reindex(columns=[*later_all.columns, *codes])
    if fittable:
        # Training rows of every cut at once: their windows overlap.
        trained = inspections.where(F.col("inspection_date") <= F.lit(fittable[-1]))
        values = point_in_time_values(gold, cfg, trained).join(
            inspections.select("inspection_id", "inspection_date", LABEL), "inspection_id").toPandas()
        history = pd.concat([values[["inspection_id", "entity_id", "inspection_date", LABEL]],
                             features(values, cfg)], axis=1)
    results, previous = [], {}
    for cut in cuts:
        train = history[(history["inspection_date"] > cut - timedelta(days=window_days))
                        & (history["inspection_date"] <= cut)]
        model = fit_scorecard(train, codes, f"backtest/{cut.isoformat()}", min_events=cfg.model.min_events,
                              min_iv=cfg.model.min_iv, max_score=cfg.max_score)
        later = later_all[(later_all["inspection_date"] > cut)
                          & (later_all["inspection_date"] <= cut + timedelta(days=horizon_days))]
        # The rows the model was fitted on; when too thin to compute them, the window's inspections.
        events, rows = (int(train[LABEL].sum()), len(train)) if cut in fittable else windows[cut]
        figures = {"cut": cut.isoformat(), "train_rows": rows, "train_events": events,
                   "model": None if model is None else list(model.indicators)}
        for scorer in SCORERS:
            if scorer == "learned" and model is None:
                figures[scorer] = None
                continue
            classes, _ = classify(gold, None, cfg, cut, model if scorer == "learned" else None)
            classes = classes.select("entity_id", "risk_score", "risk_class", "band_class", "veto_reason").toPandas()
            inspected = later.merge(classes, on="entity_id")
            y = inspected[LABEL].astype(bool).to_numpy()
            shares = classes["risk_class"].value_counts()
            kept = previous.get(scorer)
            stability = None
            if kept is not None:
                both = classes[["entity_id", "risk_class"]].merge(kept, on="entity_id", suffixes=("", "_before"))
                stability = round(float((both["risk_class"] == both["risk_class_before"]).mean()), 4)
            previous[scorer] = classes[["entity_id", "risk_class"]]
            figures[scorer] = {
                "test_rows": len(inspected), "test_events": int(y.sum()),
                "auc": auc_interval(inspected["risk_score"].to_numpy(float), y) if len(inspected) else None,
                "rates": class_rates(inspected) if len(inspected) else {},
                "shares": {c: round(float(shares.get(c, 0)) / len(classes), 4) for c in CLASSES},
                "lift": sampling_lift(shares, inspected, cfg.sampling["ratios"]) if len(inspected) else None,
                "stability": stability,
            }
        log.info("backtest cut %s: %s", cut, figures)
        results.append(figures)
    return results


FIGURES_SCHEMA = ("cut_date date, scorer string, label string, inspections long, problem_found_rate double, "
                  "share double, auc double, auc_low double, auc_high double, lift double, stability double, "
                  "generated_at timestamp")
FIGURE_COLUMNS = [part.split(" ")[0] for part in FIGURES_SCHEMA.split(", ")]


def _number(value) -> float | None:
    return None if value is None else float(value)


def figures_rows(results: list[dict], generated_at) -> list[tuple]:
    """The rows of gold.risk_backtest (FIGURES_SCHEMA, plain Python values): one per cut, scorer
    and class or veto label."""
    rows = []
    for r in results:
        for scorer in SCORERS:
            s = r.get(scorer)
            if s is None:
                continue
            auc = s["auc"] or (None, None, None)
            for label, (n, rate) in s["rates"].items():
                rows.append((date.fromisoformat(r["cut"]), scorer, label, int(n), float(rate),
                             _number(s["shares"].get(label)), *map(_number, auc), _number(s["lift"]),
                             _number(s["stability"]), generated_at))
    return rows


def figures_frame(results: list[dict], generated_at) -> pd.DataFrame:
    """`figures_rows` as pandas."""
    return pd.DataFrame(figures_rows(results, generated_at), columns=FIGURE_COLUMNS)


def render(results: list[dict], meta: dict) -> str:
    def auc(value) -> str:
        return "–" if not value else f"{value[0]:.3f} [{value[1]:.3f}, {value[2]:.3f}]"

    def rates(s: dict) -> str:
        scored = [f"{c} {s['rates'][c][0]} {s['rates'][c][1]:.0%}" for c in CLASSES if c in s["rates"]]
        vetoes = [f"{k} {n} {rate:.0%}" for k, (n, rate) in sorted(s["rates"].items()) if k.startswith("veto")]
        return ", ".join(scored) + ("; " + ", ".join(vetoes) if vetoes else "")

    lines = [
        "# Risk classes: out-of-time backtest",
        "",
        f"Generated {meta['generated_at']} by `regulake risk backtest --lake {meta['lake']}`. For each cut date: "
        f"the learned scorecard is fitted on the random inspections of the {meta['window_days']} days before the "
        f"cut (indicators as of the month end before each), the enterprises are classified on the cut date (band "
        f"cut-offs calibrated to the target shares, vetoes applied), and the random inspections of the "
        f"{meta['horizon_days']} days after it are scored by that class and score. The hand weights and bands of "
        f"conf/risk.yaml score the same inspections. AUC with a {BOOTSTRAP}-resample bootstrap 95 % interval; lift "
        f"= problems the 双随机 plan finds at the configured ratios / a uniform draw of the same size; stability = "
        f"enterprises in the same class as on the previous cut.",
        "",
        "| cut | scorer | train (problems) | scored inspections (problems) | AUC | A/B/C/D shares | "
        "scored classes, then vetoes: inspections, problem-found rate | A<B<C<D | lift | stability |",
        "|---|---|---:|---:|---|---|---|---|---:|---:|",
    ]
    for r in results:
        for scorer in SCORERS:
            s = r.get(scorer)
            if s is None:
                lines.append(f"| {r['cut']} | {scorer} | {r['train_rows']} ({r['train_events']}) | – | – (history too "
                             "thin: hand weights) | | | | | |")
                continue
            shares = " / ".join(f"{s['shares'][c]:.1%}" for c in CLASSES)
            stability = "–" if s["stability"] is None else f"{s['stability']:.1%}"
            lines.append(
                f"| {r['cut']} | {scorer} | {r['train_rows']} ({r['train_events']}) | {s['test_rows']} "
                f"({s['test_events']}) | {auc(s['auc'])} | {shares} | {rates(s)} | "
                f"{'yes' if strictly_rising(s['rates']) else 'no'} | {s['lift'] if s['lift'] is not None else '–'} | "
                f"{stability} |")
    lines.append("")
    return "\n".join(lines)
