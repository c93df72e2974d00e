"""Veto rules (一票否决): facts that force a class whatever the score."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.risk.config import RiskConfig, VetoRule
from jobs.risk.indicators import Gold, dishonest_active_on, penalty_effective_on, within_days
from regulake.spark import union_all

RULES: dict[str, Callable[[Gold, date, dict], DataFrame | None]] = {}


def rule(function):
    RULES[function.__name__] = function
    return function


@rule
def dishonest_active(gold: Gold, as_of: date, params: dict) -> DataFrame | None:
    """The enterprise itself (a 法人 record) is a 失信被执行人 not removed on the as-of date."""
    court = gold.get("fct_court_dishonest")
    if court is None:
        return None
    return court.where(~F.col("is_natural_person") & dishonest_active_on(as_of)).select("entity_id")


@rule
def serious_penalty(gold: Gold, as_of: date, params: dict) -> DataFrame | None:
    """An unrevoked serious (严重) administrative penalty decided in the window."""
    penalties = gold.get("fct_penalty")
    if penalties is None:
        return None
    return penalties.where(
        F.col("is_serious") & penalty_effective_on(as_of) & within_days("decision_date", as_of, params["window_days"])
    ).select("entity_id")


def veto_matches(gold: Gold, as_of: date, vetoes: tuple[VetoRule, ...]) -> DataFrame | None:
    """(entity_id, veto_reason, veto_class): the first matching rule, in configuration order."""
    parts = []
    for order, veto in enumerate(vetoes):
        hits = RULES[veto.rule](gold, as_of, veto.params)
        if hits is None:
            continue
        parts.append(hits.where(F.col("entity_id").isNotNull()).distinct().select(
            "entity_id", F.lit(order).alias("_order"), F.lit(veto.reason).alias("veto_reason"),
            F.lit(veto.force_class).alias("veto_class"),
        ))
    if not parts:
        return None
    hits = union_all(parts)
    first = hits.groupBy("entity_id").agg(F.min_by(F.struct("veto_reason", "veto_class"), "_order").alias("_v"))
    return first.select("entity_id", "_v.veto_reason", "_v.veto_class")


def apply_vetoes(scored: DataFrame, matches: DataFrame | None, cfg: RiskConfig) -> DataFrame:
    """risk_class = the band class, raised to the veto's class where a rule matched."""
    if matches is None:
        return scored.withColumn("risk_class", F.col("band_class")).withColumn("veto_reason", F.lit(None).cast("string"))
    joined = scored.join(matches, "entity_id", "left")
    # Classes A-D order as strings; a veto only ever raises the class.
    risk_class = F.when(F.col("veto_class").isNull(), F.col("band_class")).otherwise(
        F.greatest(F.col("band_class"), F.col("veto_class"))
    )
    return joined.withColumn("risk_class", risk_class).drop("veto_class")
