"""From observations to the scorecard: units, periods, indicator values, scores, total, rank, band."""

from __future__ import annotations

from datetime import date

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.scorecards.config import ScorecardConfig

KEY = ["unit_type", "unit_code", "period_type", "period"]


def unit_regions(dim_region: DataFrame, level: str) -> DataFrame:
    """region_code -> the code of the unit it rolls up to (county | prefecture | province)."""
    target = {"county": "region_code", "prefecture": "prefecture_code", "province": "province_code"}[level]
    return dim_region.select("region_code", F.coalesce(F.col(target), "region_code").alias("_unit_region"))


def _region_fallback(code: Column, level: str) -> Column:
    """A code missing from dim_region still rolls up by its GB/T 2260 digits."""
    if level == "prefecture":
        return F.concat(F.substring(code, 1, 4), F.lit("00"))
    if level == "province":
        return F.concat(F.substring(code, 1, 2), F.lit("0000"))
    return code


def by_unit(observations: DataFrame, dim_region: DataFrame, cfg: ScorecardConfig) -> DataFrame:
    """Each observation once for its department and once for its region."""
    regions = unit_regions(dim_region, cfg.region_level)
    with_region = observations.join(regions, "region_code", "left").withColumn(
        "_unit_region", F.coalesce("_unit_region", _region_fallback(F.col("region_code"), cfg.region_level)))
    measures = ["indicator", "event_date", "num", "den", "num2", "den2"]
    departments = with_region.select(F.lit("department").alias("unit_type"),
                                     F.col("department_code").alias("unit_code"), *measures)
    regions_ = with_region.select(F.lit("region").alias("unit_type"), F.col("_unit_region").alias("unit_code"),
                                  *measures)
    return departments.unionByName(regions_).where(F.col("unit_code").isNotNull() & (F.col("unit_code") != ""))


def with_periods(frame: DataFrame, periods: tuple[str, ...]) -> DataFrame:
    labels = {"month": F.date_format("event_date", "yyyy-MM"), "year": F.date_format("event_date", "yyyy")}
    choices = F.array(*[F.struct(F.lit(p).alias("period_type"), labels[p].alias("period")) for p in periods])
    return frame.withColumn("_period", F.explode(choices)).select("*", "_period.*").drop("_period")


def indicator_values(observations: DataFrame, dim_region: DataFrame, cfg: ScorecardConfig) -> DataFrame:
    """KEY + indicator, value, observations (n) and score, per indicator a unit has enough data for."""
    sums = (
        with_periods(by_unit(observations, dim_region, cfg), cfg.periods)
        .groupBy(*KEY, "indicator")
        .agg(F.sum("num").alias("num"), F.sum("den").alias("den"),
             F.sum("num2").alias("num2"), F.sum("den2").alias("den2"))
    )
    rate = F.try_divide("num", "den")
    baseline = F.try_divide("num2", "den2")
    value = F.when(F.col("den2").isNull(), rate).otherwise(F.try_divide(rate, baseline))
    floors = F.create_map(*[x for i in cfg.indicators for x in (F.lit(i.code), F.lit(i.floor))])
    targets = F.create_map(*[x for i in cfg.indicators for x in (F.lit(i.code), F.lit(i.target))])
    floor, target = floors[F.col("indicator")], targets[F.col("indicator")]
    score = F.least(F.lit(1.0), F.greatest(F.lit(0.0), (F.col("value") - floor) / (target - floor)))
    return (
        sums.withColumn("observations", F.col("den").cast("long"))
        .withColumn("value", value)
        .where(F.col("value").isNotNull() & (F.col("observations") >= cfg.min_observations))
        .withColumn("score", score)
        .select(*KEY, "indicator", "value", "observations", "score")
    )


def band(total: Column, cfg: ScorecardConfig) -> Column:
    result = F.lit(None).cast("string")
    for name, minimum in reversed(cfg.bands):  # lowest first, so the highest band reached wins
        result = F.when(total >= F.lit(minimum), F.lit(name)).otherwise(result)
    return result


def scorecard(values: DataFrame, units: DataFrame, cfg: ScorecardConfig, as_of: date) -> DataFrame:
    """One row per (unit_type, unit_code, period): indicator columns, total_score, rank, band.

    `units` maps (unit_type, unit_code) to unit_name. For each indicator the row carries
    `<code>` (its value), `<code>_n` (observations) and `<code>_score` (0..1).
    """
    weights = F.create_map(*[x for i in cfg.indicators for x in (F.lit(i.code), F.lit(i.weight))])
    weighted = values.withColumn("_weight", weights[F.col("indicator")])
    columns = []
    for indicator in cfg.indicators:
        this = F.col("indicator") == indicator.code
        columns += [
            F.round(F.max(F.when(this, F.col("value"))), 4).alias(indicator.code),
            F.max(F.when(this, F.col("observations"))).alias(f"{indicator.code}_n"),
            F.round(F.max(F.when(this, F.col("score"))), 4).alias(f"{indicator.code}_score"),
        ]
    wide = weighted.groupBy(*KEY).agg(
        *columns,
        F.round(F.lit(100.0) * F.try_divide(F.sum(F.col("_weight") * F.col("score")), F.sum("_weight")), 2)
        .alias("total_score"),
        F.count("indicator").cast("int").alias("indicators_scored"),
    )
    peers = Window.partitionBy("unit_type", "period_type", "period")
    ranked = (
        wide.withColumn("rank", F.rank().over(peers.orderBy(F.desc("total_score"))).cast("int"))
        .withColumn("units_ranked", F.count(F.lit(1)).over(peers).cast("int"))
        .withColumn("band", band(F.col("total_score"), cfg))
        .join(units, ["unit_type", "unit_code"], "left")
    )
    indicator_columns = [c for i in cfg.indicators for c in (i.code, f"{i.code}_n", f"{i.code}_score")]
    return ranked.select(
        "unit_type", "unit_code", "unit_name", "period_type", "period", F.lit(as_of).alias("as_of_date"),
        "total_score", "rank", "units_ranked", "band", "indicators_scored", *indicator_columns,
        F.lit(cfg.version).alias("config_version"),
    )


def unit_names(dim_department: DataFrame, dim_region: DataFrame) -> DataFrame:
    departments = dim_department.select(F.lit("department").alias("unit_type"),
                                        F.col("department_code").alias("unit_code"),
                                        F.col("department_name").alias("unit_name"))
    regions = dim_region.select(F.lit("region").alias("unit_type"), F.col("region_code").alias("unit_code"),
                                F.col("region_name").alias("unit_name"))
    return departments.unionByName(regions).dropDuplicates(["unit_type", "unit_code"])
