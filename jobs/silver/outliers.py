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


def _sql_double(value: float) -> str:
    return f"CAST('{value!r}' AS DOUBLE)"  # the exact double, not a DECIMAL literal


def outlier_flags_sql(stats: dict[str, LogStats], rule: OutlierRule) -> str:
    """`_outlier_flags` for every row, from the feed's statistics, as a SQL expression (it goes into
    a Delta UPDATE as well as a projection)."""
    flags = []
    for alias, stat in stats.items():
        if stat.count < rule.min_count or not stat.std:
            continue  # too few values (or all equal) to call anything unusual
        value = f"CAST(`{alias}` AS DOUBLE)"
        log_value = f"CASE WHEN {value} > 0 THEN ln({value}) END"
        far = f"abs(({log_value}) - {_sql_double(stat.mean)}) > {_sql_double(rule.z * stat.std)}"
        flags.append(f"CASE WHEN {far} THEN '{alias}:outlier' END")
    if not flags:
        return "CAST(array() AS array<string>)"
    return f"filter(array({', '.join(flags)}), flag -> flag IS NOT NULL)"


def flag_outliers(frame: DataFrame, rule: OutlierRule) -> DataFrame:
    """The frame with `_outlier_flags` computed from its own statistics."""
    return frame.withColumn(OUTLIER_FLAGS, F.expr(outlier_flags_sql(outlier_stats(frame, rule), rule)))
