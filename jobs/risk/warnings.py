"""Risk warnings (风险预警): red / yellow / blue events of an as-of run, each with its reason."""

from __future__ import annotations

import re
from datetime import date

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.risk.config import RiskConfig
from jobs.risk.indicators import Gold, complaints_in
from regulake.spark import union_all

WARNING_COLUMNS = ["warning_id", "entity_id", "as_of_date", "warning_level", "warning_code", "reason",
                   "risk_class", "previous_class", "risk_score"]
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def render(template: str, values: dict[str, Column]) -> Column:
    """A reason template `text {name} text` filled from columns (null parts print as '-')."""
    parts: list[Column] = []
    position = 0
    for match in _PLACEHOLDER.finditer(template):
        parts.append(F.lit(template[position:match.start()]))
        parts.append(F.coalesce(values[match.group(1)].cast("string"), F.lit("-")))
        position = match.end()
    parts.append(F.lit(template[position:]))
    return F.concat(*parts)


def complaint_surges(gold: Gold, as_of: date, rule: dict) -> DataFrame | None:
    """(entity_id, recent, baseline): substantiated complaints now vs. the preceding months' average."""
    window, baseline_days = int(rule["window_days"]), int(rule["baseline_days"])
    recent = complaints_in(gold, as_of, window, True)
    wider = complaints_in(gold, as_of, window + baseline_days, True)
    if recent is None or wider is None:
        return None
    recent_counts = recent.groupBy("entity_id").agg(F.count(F.lit(1)).alias("recent"))
    wider_counts = wider.groupBy("entity_id").agg(F.count(F.lit(1)).alias("_wider"))
    counts = recent_counts.join(wider_counts, "entity_id", "left")
    baseline = F.round((F.col("_wider") - F.col("recent")) * F.lit(window / baseline_days), 2)
    counts = counts.withColumn("baseline", baseline)
    surge = (F.col("recent") >= F.lit(int(rule["min_count"]))) & (
        F.col("recent") >= F.lit(float(rule["min_ratio"])) * F.col("baseline")
    )
    return counts.where(F.col("entity_id").isNotNull() & surge).select("entity_id", "recent", "baseline")


def risk_warnings(classes: DataFrame, surges: DataFrame | None, cfg: RiskConfig) -> DataFrame:
    """Warnings of one as-of run from its classes (with transitions) and complaint surges."""
    c = {name: F.col(name) for name in classes.columns}
    parts = []
    veto = cfg.warning("new_veto")
    if veto:
        hits = classes.where(F.col("veto_reason").isNotNull() & F.col("previous_veto_reason").isNull())
        parts.append(hits.select("*", F.lit(veto["level"]).alias("warning_level"), F.lit("new_veto").alias("warning_code"),
                                 render(veto["reason"], c).alias("reason")))
    jump = cfg.warning("class_jump")
    if jump:
        hits = classes.where(F.col("class_change") >= F.lit(int(jump["min_steps"])))
        parts.append(hits.select("*", F.lit(jump["level"]).alias("warning_level"), F.lit("class_jump").alias("warning_code"),
                                 render(jump["reason"], {**c, "steps": F.col("class_change")}).alias("reason")))
    surge = cfg.warning("complaint_surge")
    if surge and surges is not None:
        hits = classes.join(surges, "entity_id")
        values = {**c, "recent": F.col("recent"), "baseline": F.col("baseline"),
                  "window_days": F.lit(int(surge["window_days"]))}
        parts.append(hits.select(*classes.columns, F.lit(surge["level"]).alias("warning_level"),
                                 F.lit("complaint_surge").alias("warning_code"), render(surge["reason"], values).alias("reason")))
    if not parts:
        return classes.sparkSession.createDataFrame([], warning_schema())
    warnings = union_all([p.select(*classes.columns, "warning_level", "warning_code", "reason") for p in parts])
    warning_id = F.sha2(F.concat_ws("|", "entity_id", F.col("as_of_date").cast("string"), "warning_code"), 256).substr(1, 32)
    return warnings.withColumn("warning_id", warning_id).select(*WARNING_COLUMNS)


def warning_schema() -> str:
    return ("warning_id string, entity_id string, as_of_date date, warning_level string, warning_code string, "
            "reason string, risk_class string, previous_class string, risk_score double")
