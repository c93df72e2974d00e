"""Observations: one row per thing a supervising unit did (or had to do), per indicator.

Every indicator is a ratio of sums over its observations, so one shape serves them all:
`value = (sum(num) / sum(den)) / (sum(num2) / sum(den2))`, where num2/den2 are null (a
factor of 1) except for the targeting lift, whose denominator is itself a rate. A mean
(days, hours) is `num = the amount, den = 1`. Each row names the department and the raw
region code it counts for and the date that places it in a period.
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.scorecards.config import ScorecardConfig

OBSERVATION_COLUMNS = ["indicator", "department_code", "region_code", "event_date", "num", "den", "num2", "den2"]


def _observe(frame: DataFrame, indicator: str, department: Column | str, region: Column | str, event_date: Column,
             num: Column, den: Column | None = None, num2: Column | None = None,
             den2: Column | None = None) -> DataFrame:
    def as_col(value: Column | str) -> Column:
        return F.col(value) if isinstance(value, str) else value

    return frame.select(
        F.lit(indicator).alias("indicator"),
        as_col(department).cast("string").alias("department_code"),
        as_col(region).cast("string").alias("region_code"),
        event_date.cast("date").alias("event_date"),
        num.cast("double").alias("num"),
        (F.lit(1.0) if den is None else den).cast("double").alias("den"),
        (F.lit(None) if num2 is None else num2).cast("double").alias("num2"),
        (F.lit(None) if den2 is None else den2).cast("double").alias("den2"),
    )


def _flag(condition: Column) -> Column:
    return F.when(condition, 1.0).otherwise(0.0)


def enterprise_regions(dim_enterprise: DataFrame) -> DataFrame:
    """entity_id -> the region of its current registration."""
    return (dim_enterprise.where(F.col("is_current"))
            .groupBy("entity_id").agg(F.max("region_code").alias("enterprise_region")))


def class_at_inspection(inspections: DataFrame, classes: DataFrame) -> DataFrame:
    """Each inspection with the enterprise's risk class when it was inspected: the latest
    classification on or before the inspection date, else (inspected before the first
    classification) the first one after it; null when the enterprise was never classified."""
    joined = inspections.join(classes.select("entity_id", F.col("as_of_date").alias("_class_date"), "risk_class"),
                              "entity_id", "left")
    distance = F.when(F.col("_class_date") <= F.col("inspection_date"),
                      F.datediff("inspection_date", "_class_date")).otherwise(
        F.lit(1_000_000) + F.datediff("_class_date", "inspection_date"))
    order = Window.partitionBy("inspection_id").orderBy(distance.asc_nulls_last())
    return (joined.withColumn("_pick", F.row_number().over(order)).where("_pick = 1")
            .drop("_pick", "_class_date"))


def inspection_coverage(plan: DataFrame, inspections: DataFrame, as_of: date) -> DataFrame:
    """Planned (enterprise, matter) draws of a department: done when the department inspected the
    enterprise between the draw and the as-of date."""
    planned = plan.where(F.col("as_of_date") <= F.lit(as_of))
    done = inspections.where(F.col("inspection_date") <= F.lit(as_of)).select(
        "entity_id", F.col("department_code").alias("_dept"), "inspection_date")
    matched = (
        planned.join(done, (planned["entity_id"] == done["entity_id"]) & (planned["department_code"] == done["_dept"])
                     & (done["inspection_date"] >= planned["as_of_date"]), "left")
        .groupBy(planned["plan_id"], planned["entity_id"], planned["matter_code"], planned["department_code"],
                 planned["region_code"], planned["as_of_date"])
        .agg(F.max(F.col("_dept").isNotNull()).alias("_done"))
    )
    return _observe(matched, "inspection_coverage", "department_code", "region_code", F.col("as_of_date"),
                    _flag(F.col("_done")))


def observations(gold: dict[str, DataFrame], cfg: ScorecardConfig, as_of: date) -> DataFrame:
    """Every indicator's observations up to `as_of` (the gold marts as read by the job)."""
    regions = enterprise_regions(gold["dim_enterprise"])
    cutoff = F.lit(as_of)
    inspections = (gold["fct_inspection"].where(F.col("inspection_date") <= cutoff)
                   .join(regions, "entity_id", "left"))
    random = inspections.where(F.col("task_type").isin(list(cfg.option("random_task_types"))))
    problems = inspections.where(F.col("is_problem_found"))
    rectified = F.col("rectified_date").isNotNull() & (F.col("rectified_date") <= cutoff)

    classed = class_at_inspection(random, gold["enterprise_risk_class"].where(F.col("as_of_date") <= cutoff)) \
        .where(F.col("risk_class").isNotNull())
    high = F.col("risk_class").isin(list(cfg.option("high_risk_classes")))
    found = F.col("is_problem_found")

    complaints = (gold["fct_hotline_ticket"].where(F.col("is_complaint") & (F.to_date("received_at") <= cutoff))
                  .join(regions, "entity_id", "left"))
    complaint_region = F.coalesce("region_code", "enterprise_region")
    closed = complaints.where(F.col("closed_at").isNotNull() & (F.to_date("closed_at") <= cutoff))
    rated = complaints.where(F.col("satisfaction").isin(list(cfg.option("rated_satisfaction"))))

    tasks = (gold["fct_coop_task"].where(F.col("deadline").isNotNull() & (F.col("deadline") <= cutoff))
             .join(regions, "entity_id", "left"))
    on_time = F.col("fed_back_at").isNotNull() & (F.to_date("fed_back_at") <= F.col("deadline"))

    matters = gold["dim_matter"].select("matter_code", F.col("department_code").alias("matter_department"))
    penalties = (gold["fct_penalty"].where(F.col("decision_date") <= cutoff)
                 .join(regions, "entity_id", "left").join(matters, "matter_code", "left"))

    parts = [
        inspection_coverage(gold["inspection_plan"], gold["fct_inspection"], as_of),
        _observe(random, "problem_found_rate", "department_code", "enterprise_region", F.col("inspection_date"),
                 _flag(found)),
        _observe(classed, "targeting_lift", "department_code", "enterprise_region", F.col("inspection_date"),
                 num=_flag(found & high), den=_flag(high), num2=_flag(found), den2=F.lit(1.0)),
        _observe(problems, "rectification_rate", "department_code", "enterprise_region", F.col("inspection_date"),
                 _flag(rectified)),
        _observe(problems.where(rectified), "rectification_days", "department_code", "enterprise_region",
                 F.col("inspection_date"), F.datediff("rectified_date", "inspection_date")),
        _observe(closed, "complaint_closure_hours", "handling_dept", complaint_region, F.to_date("received_at"),
                 F.col("handling_hours")),
        _observe(rated, "complaint_satisfaction", "handling_dept", complaint_region, F.to_date("received_at"),
                 _flag(F.col("satisfaction").isin(list(cfg.option("satisfied"))))),
        _observe(tasks, "coop_feedback_on_time", "current_dept", "enterprise_region", F.col("deadline"),
                 _flag(on_time)),
        _observe(penalties, "penalty_publicity", "matter_department",
                 F.coalesce("authority_region_code", "enterprise_region"), F.col("decision_date"),
                 _flag(F.coalesce(F.col("is_effective"), F.lit(True)))),
    ]
    wanted = {i.code for i in cfg.indicators}
    frame = None
    for part in parts:
        frame = part if frame is None else frame.unionByName(part)
    return frame.where(F.col("indicator").isin(sorted(wanted)) & F.col("num").isNotNull())
