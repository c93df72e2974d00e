"""Point-in-time training rows for a learned risk scorecard (docs/RISK.md, "Learning the weights").

The lake's inspection history is the training set: every random inspection (双随机) with
the enterprise's indicator values as they stood **before** it, and whether a problem was
found. Indicators are computed as of the last month end strictly before the inspection
date (the monthly cut the province classifies on), so nothing dated on or after the
inspection day — and no later revision such as a penalty revoked afterwards — reaches the
features: `indicators.py` counts only facts dated on or before its as-of date and takes
SCD2 versions in force then.

Targeted inspections (重点, 专项, 投诉举报) are left out: they are chosen because of
suspected risk, so their problem-found rate says how good the tip was, not how risky the
population is. Random draws are uniform within each class, the unbiased sample the
weights are fitted on.

Pure functions of the gold marts; the cost is one indicator computation per month of
history, not per inspection.
"""

from __future__ import annotations

import logging
import time
from datetime import date, timedelta

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.risk.config import RiskConfig
from jobs.risk.indicators import Gold, coverage_starts, enterprises_on, indicator_values, uncovered
from jobs.risk.learned import LABEL
from jobs.risk.scoring import missing_is_zero
from regulake.spark import union_all

log = logging.getLogger(__name__)
KEY_COLUMNS = ("inspection_id", "entity_id", "inspection_date", "cut_date", LABEL)


def cut_before(day: date) -> date:
    """The last month end strictly before `day`: 2024-03-10 -> 2024-02-29, 2024-03-01 -> 2024-02-29."""
    return day.replace(day=1) - timedelta(days=1)


def random_inspections(inspections: DataFrame, random_task_types: list[str], start: date, end: date) -> DataFrame:
    """Random inspections of enterprises dated in [start, end], with their cut date."""
    return (
        inspections.where(F.col("task_type").isin(random_task_types) & F.col("entity_id").isNotNull()
                          & F.col("inspection_date").between(F.lit(start), F.lit(end)))
        .select("inspection_id", "entity_id", "inspection_date",
                F.date_sub(F.trunc("inspection_date", "month"), 1).alias("cut_date"),
                F.col("is_problem_found").cast("boolean").alias(LABEL))
    )


def point_in_time_values(gold: Gold, cfg: RiskConfig, inspections: DataFrame) -> DataFrame:
    """inspection_id, entity_id, cut_date, indicator_values (map code -> value; absent: no record),
    uncovered (codes with no data at all on the cut date: indicators.uncovered) of the
    `random_inspections` rows whose enterprise was 存续 at the cut date: one indicator
    computation per cut month, over the inspected enterprises only."""
    inspections = inspections.cache()
    cuts = sorted(row["cut_date"] for row in inspections.select("cut_date").distinct().collect())
    starts = coverage_starts(gold) if cuts else {}
    parts = []
    for number, cut in enumerate(cuts, start=1):
        started = time.monotonic()
        rows = inspections.where(F.col("cut_date") == F.lit(cut))
        frame = enterprises_on(gold["dim_enterprise"], cut).join(rows.select("entity_id").distinct(), "entity_id")
        values = indicator_values({**gold, "enterprises": frame}, cut, cfg.indicators)
        per_entity = values.groupBy("entity_id").agg(
            F.map_from_entries(F.collect_list(F.struct("indicator_code", "value"))).alias("indicator_values"))
        # Materialised per cut: a union of every month's ~40 indicator plans is too large a plan to optimise.
        parts.append(rows.join(frame.select("entity_id"), "entity_id")
                     .join(per_entity, "entity_id", "left")
                     .select("inspection_id", "entity_id", "cut_date",
                             F.coalesce("indicator_values", F.create_map().cast("map<string,double>"))
                             .alias("indicator_values"),
                             F.array(*[F.lit(c) for c in uncovered(cfg.indicators, starts, cut)])
                             .cast("array<string>").alias("uncovered")).localCheckpoint())
        log.info("training rows: cut %s (%d of %d) in %.1f s", cut, number, len(cuts), time.monotonic() - started)
    if not parts:
        return inspections.sparkSession.createDataFrame(
            [], "inspection_id string, entity_id string, cut_date date, indicator_values map<string,double>, "
            "uncovered array<string>")
    return union_all(parts)


def features(values: pd.DataFrame, cfg: RiskConfig) -> pd.DataFrame:
    """One float column per indicator from `point_in_time_values` rows (pandas): a count with no
    record reads 0 (`scoring.missing_is_zero`), an uncovered indicator stays null (no data)."""
    codes = [indicator.code for indicator in cfg.indicators]
    zero = missing_is_zero(cfg)
    rows = []
    for found, unknown in zip(values["indicator_values"], values["uncovered"], strict=True):
        unknown = set(unknown if unknown is not None else ())
        rows.append({c: found.get(c, 0.0 if c in zero else None) if c not in unknown else None for c in codes})
    return pd.DataFrame(rows, columns=codes, index=values.index, dtype=float)


def training_rows(gold: Gold, cfg: RiskConfig, random_task_types: list[str], start: date, end: date) -> DataFrame:
    """One row per random inspection dated in [start, end] of an enterprise 存续 at its cut date:
    KEY_COLUMNS, then one double column per indicator code (null: no data), as of the cut date."""
    inspected = random_inspections(gold["fct_inspection"], random_task_types, start, end)
    values = point_in_time_values(gold, cfg, inspected)
    codes = [indicator.code for indicator in cfg.indicators]
    return inspected.join(values.select("inspection_id", "indicator_values"), "inspection_id").select(
        *KEY_COLUMNS, *[F.col("indicator_values")[code].alias(code) for code in codes])
