"""From indicator values to points, a 0-1000 score, a band class and an explanation.

Points come from the hand weights of conf/risk.yaml or from a learned scorecard's bins
(jobs/risk/learned.py); everything after the points (category totals, score, explanation)
is the same for both, and each row says which was used (`score_method`, `model_version`).
"""

from __future__ import annotations

import math
import operator

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.risk.config import RiskConfig, RiskIndicator
from jobs.risk.indicators import NULL_IS_UNKNOWN
from jobs.risk.learned import ScorecardModel
from regulake.spark import balanced_reduce


def risk_share(indicator: RiskIndicator, value: Column) -> Column:
    """The indicator's scale applied to its raw value: a risk share in [0, 1]."""
    scale = indicator.scale
    if scale == "flag":
        share = F.when(value > 0, 1.0).otherwise(0.0)
    elif "linear" in scale:
        cap = float(scale["linear"]["cap"])
        share = F.least(F.greatest(value / F.lit(cap), F.lit(0.0)), F.lit(1.0))
    else:
        share = F.lit(0.0)
        for minimum, step_share in scale["steps"]:  # ascending: the last match wins
            share = F.when(value >= F.lit(float(minimum)), F.lit(float(step_share))).otherwise(share)
    return F.when(value.isNull(), F.lit(indicator.missing)).otherwise(share)


def band_class(score: Column, cfg: RiskConfig, model: ScorecardModel | None = None) -> Column:
    """The hand bands of conf/risk.yaml, or the learned model's calibrated cut-offs."""
    if model is not None and model.cutoffs is None:
        return F.lit(None).cast("string")   # not calibrated yet (jobs/risk/model.py calibrates)
    bands = cfg.bands if model is None else tuple(zip("ABCD", (0.0, *model.cutoffs), strict=True))
    result = F.lit(bands[0][0])
    for risk_class, minimum in bands[1:]:
        if not math.isinf(minimum):
            result = F.when(score >= F.lit(minimum), F.lit(risk_class)).otherwise(result)
    return result


def missing_is_zero(cfg: RiskConfig) -> frozenset[str]:
    """Indicators whose null means "none happened" (counts: indicators.NULL_IS_UNKNOWN lists the
    others). A learned model reads them as 0; its null bin is for "no data"."""
    return frozenset(i.code for i in cfg.indicators if i.measure not in NULL_IS_UNKNOWN)


def learned_points(model: ScorecardModel, code: str, value: Column, zero_when_null: bool) -> Column:
    """The points of the bin `value` falls in (bins: lower inclusive); the null bin's when null."""
    bins = model.table[model.table["indicator_code"] == code]
    if bins.empty:
        return F.lit(0.0)
    if zero_when_null:   # before the lookup: a null count falls in the bin of 0, not the lowest bin
        value = F.coalesce(value, F.lit(0.0))
    regular = bins[~bins["is_missing"]].sort_values("lower")
    missing = bins.loc[bins["is_missing"], "points"]
    lookup = F.lit(float(regular["points"].iloc[0]))
    for lower, points in zip(regular["lower"].iloc[1:], regular["points"].iloc[1:], strict=True):
        lookup = F.when(value >= F.lit(float(lower)), F.lit(float(points))).otherwise(lookup)
    null_points = float(missing.iloc[0]) if len(missing) else 0.0
    return F.when(value.isNull(), F.lit(null_points)).otherwise(lookup)


def points_column(code: str) -> str:
    return f"points_{code}"


def score_enterprises(frame: DataFrame, values: DataFrame, cfg: RiskConfig,
                      model: ScorecardModel | None = None) -> DataFrame:
    """One row per enterprise of `frame`: category points, risk_score, band_class, explanation,
    score_method and model_version.

    `values` is the long (entity_id, indicator_code, value) of jobs.risk.indicators. With a
    `model` (cut-offs calibrated) its bins give the points and its cut-offs the bands; without
    one, the hand weights and bands of `cfg`.
    """
    codes = [ind.code for ind in cfg.indicators]
    wide = values.groupBy("entity_id").pivot("indicator_code", codes).agg(F.first("value"))
    scored = frame.select("entity_id").join(wide, "entity_id", "left")
    zero = missing_is_zero(cfg)

    def points(ind: RiskIndicator) -> Column:
        value = F.col(f"`{ind.code}`")
        if model is None:
            return F.lit(ind.points) * risk_share(ind, value)
        return learned_points(model, ind.code, value, ind.code in zero)

    # One projection per step (a withColumn per indicator re-analyses the plan each time).
    scored = scored.select("entity_id", *[
        F.round(points(ind), 2).alias(points_column(ind.code)) for ind in cfg.indicators
    ])
    category_columns, totals = [], []
    for cat in cfg.categories:
        total = balanced_reduce(operator.add, [F.lit(0.0), *[F.col(points_column(i.code)) for i in cat.indicators]])
        category_columns.append(f"{cat.code.lower()}_points")
        # A category's cap belongs to the hand weights; learned points are bounded by the fit.
        capped = total if model is not None else F.least(total, F.lit(cat.max_points))
        totals.append(F.round(capped, 2).alias(category_columns[-1]))
    scored = scored.select("*", *totals)
    score = F.round(F.least(balanced_reduce(operator.add, [F.col(c) for c in category_columns]), F.lit(cfg.max_score)), 1)
    contributions = F.array(*[
        F.struct(F.col(points_column(i.code)).alias("points"), F.lit(i.code).alias("indicator_code"),
                 F.lit(i.name).alias("indicator_name"))
        for i in cfg.indicators
    ])
    # Largest points first; equal points in indicator order (codes sort as defined).
    ranked = F.array_sort(
        F.filter(contributions, lambda c: c["points"] > 0),
        lambda a, b: F.when(a["points"] > b["points"], -1).when(a["points"] < b["points"], 1)
        .when(a["indicator_code"] < b["indicator_code"], -1).when(a["indicator_code"] > b["indicator_code"], 1)
        .otherwise(0),
    )
    top = F.slice(ranked, 1, cfg.explanation_top)
    explanation = F.array_join(
        F.transform(top, lambda c: F.concat(c["indicator_name"], F.lit(" +"), F.format_number(c["points"], 0))), "；"
    )
    return scored.select(
        "entity_id",
        *category_columns,
        score.alias("risk_score"),
        band_class(score, cfg, model).alias("band_class"),
        F.lit("hand" if model is None else "learned").alias("score_method"),
        F.lit(cfg.version if model is None else model.version).alias("model_version"),
        F.transform(top, lambda c: F.struct(c["indicator_code"].alias("indicator_code"),
                                            c["indicator_name"].alias("indicator_name"),
                                            c["points"].alias("points"))).alias("top_indicators"),
        F.when(F.size(top) > 0, explanation).alias("explanation"),
        F.map_from_entries(F.transform(ranked, lambda c: F.struct(c["indicator_code"], c["points"]))).alias("indicator_points"),
    )
