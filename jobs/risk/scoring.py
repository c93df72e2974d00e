"""From indicator values to points, a 0-1000 score, a band class and an explanation."""

from __future__ import annotations

import operator

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.risk.config import RiskConfig, RiskIndicator
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


def band_class(score: Column, cfg: RiskConfig) -> Column:
    result = F.lit(cfg.bands[0][0])
    for risk_class, minimum in cfg.bands[1:]:
        result = F.when(score >= F.lit(minimum), F.lit(risk_class)).otherwise(result)
    return result


def points_column(code: str) -> str:
    return f"points_{code}"


def score_enterprises(frame: DataFrame, values: DataFrame, cfg: RiskConfig) -> DataFrame:
    """One row per enterprise of `frame`: category points, risk_score, band_class, explanation.

    `values` is the long (entity_id, indicator_code, value) of jobs.risk.indicators.
    """
    codes = [ind.code for ind in cfg.indicators]
    wide = values.groupBy("entity_id").pivot("indicator_code", codes).agg(F.first("value"))
    scored = frame.select("entity_id").join(wide, "entity_id", "left")
    # One projection per step (a withColumn per indicator re-analyses the plan each time).
    scored = scored.select("entity_id", *[
        F.round(F.lit(ind.points) * risk_share(ind, F.col(f"`{ind.code}`")), 2).alias(points_column(ind.code))
        for ind in cfg.indicators
    ])
    category_columns, totals = [], []
    for cat in cfg.categories:
        total = balanced_reduce(operator.add, [F.lit(0.0), *[F.col(points_column(i.code)) for i in cat.indicators]])
        category_columns.append(f"{cat.code.lower()}_points")
        totals.append(F.round(F.least(total, F.lit(cat.max_points)), 2).alias(category_columns[-1]))
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
        band_class(score, cfg).alias("band_class"),
        F.transform(top, lambda c: F.struct(c["indicator_code"].alias("indicator_code"),
                                            c["indicator_name"].alias("indicator_name"),
                                            c["points"].alias("points"))).alias("top_indicators"),
        F.when(F.size(top) > 0, explanation).alias("explanation"),
        F.map_from_entries(F.transform(ranked, lambda c: F.struct(c["indicator_code"], c["points"]))).alias("indicator_points"),
    )
