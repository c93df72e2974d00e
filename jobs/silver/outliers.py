"""Outlier flags: numeric values far outside their feed's usual range (log-scale 3-sigma).

Flags are written to `_outlier_flags` (`<alias>:outlier`); values are never
dropped or changed. Statistics are taken over every version the feed holds in
silver, so the flags are a function of the set of records (order-independent)
and are refreshed after each run that changed the feed. Only positive values
have a logarithm: zeros and negatives are neither counted nor flagged.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column as SparkColumn
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.silver.quality import OutlierRule

OUTLIER_FLAGS = "_outlier_flags"


@dataclass(frozen=True)
class LogStats:
    count: int
    mean: float | None
    std: float | None


def _log(alias: str) -> SparkColumn:
    value = F.col(alias).cast("double")
    return F.when(value > 0, F.ln(value))


def outlier_stats(frame: DataFrame, rule: OutlierRule) -> dict[str, LogStats]:
    """Count, mean and population std of ln(value) per rule column, in one aggregation."""
    if not rule.columns:
        return {}
    aggregates = []
    for alias in rule.columns:
        aggregates += [F.count(_log(alias)).alias(f"n_{alias}"), F.avg(_log(alias)).alias(f"m_{alias}"),
                       F.stddev_pop(_log(alias)).alias(f"s_{alias}")]
    row = frame.agg(*aggregates).first()
    return {alias: LogStats(int(row[f"n_{alias}"]), row[f"m_{alias}"], row[f"s_{alias}"]) for alias in rule.columns}


def outlier_flags_col(stats: dict[str, LogStats], rule: OutlierRule) -> SparkColumn:
    """`_outlier_flags` for every row, from the feed's statistics."""
    flags = []
    for alias, stat in stats.items():
        if stat.count < rule.min_count or not stat.std:
            continue  # too few values (or all equal) to call anything unusual
        far = F.abs(_log(alias) - F.lit(stat.mean)) > F.lit(rule.z * stat.std)
        flags.append(F.when(far, F.lit(f"{alias}:outlier")))
    if not flags:
        return F.array().cast("array<string>")
    return F.filter(F.array(*flags), lambda flag: flag.isNotNull())


def flag_outliers(frame: DataFrame, rule: OutlierRule) -> DataFrame:
    """The frame with `_outlier_flags` computed from its own statistics."""
    return frame.withColumn(OUTLIER_FLAGS, outlier_flags_col(outlier_stats(frame, rule), rule))
