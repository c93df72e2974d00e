"""The 双随机 inspection plan stage: read the risk classes and gold marts, draw, write gold.inspection_plan.

The sampling itself is the pure functions of jobs.risk.plan (ratios per class, officer pairs,
conflict-of-interest rules), configured in conf/risk.yaml `sampling:`.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.risk.config import RiskConfig, load_risk_config
from jobs.risk.indicators import Gold
from jobs.risk.job import CLASS_TABLE, MARTS, read_gold
from jobs.risk.plan import draw_plan, eligible_matters, officers_on_duty, previous_pairs
from jobs.risk.store import write_as_of
from regulake import lake, stage_state
from regulake.catalog import save_view
from regulake.config import Settings
from regulake.stage import StageContext

log = logging.getLogger(__name__)

PLAN_TABLE = "inspection_plan"
STAGE = "inspection_plan"
# The draw itself lives in jobs/risk/plan.py: both folders are the plan's code.
CODE = [Path(__file__).parent, Path(__file__).parents[1] / "risk"]


def plan(gold: Gold, classes: DataFrame, plan_history: DataFrame | None, cfg: RiskConfig, as_of: date,
         seed: int, drawn_at: datetime) -> DataFrame:
    """gold.inspection_plan rows of one as-of date. Pure."""
    for name in ("dim_matter", "dim_officer"):
        if gold.get(name) is None:
            raise ValueError(f"gold.{name} is required to draw an inspection plan")
    legal_rep_rics = None
    if gold.get("bridge_enterprise_person") is not None and gold.get("dim_person") is not None:
        legal_rep_rics = (
            gold["bridge_enterprise_person"].where(F.col("role") == "legal_representative")
            .join(gold["dim_person"], "person_id").where(F.col("person_ric").isNotNull())
            .select("entity_id", F.col("person_ric").alias("ric")).distinct()
        )
    previous = previous_pairs(plan_history, gold.get("fct_inspection"), as_of)
    return draw_plan(classes, eligible_matters(gold["dim_matter"], cfg), officers_on_duty(gold["dim_officer"], as_of),
                     legal_rep_rics, previous, cfg, as_of, seed, drawn_at)


def run(ctx: StageContext, seed: int | None = None) -> dict:
    """Write gold.inspection_plan for `ctx.as_of` from its risk classes (idempotent: an unchanged
    plan is not rewritten; `seed` defaults to the configured seed policy)."""
    spark, settings, run_id, as_of = ctx.spark, ctx.settings, ctx.run_id, ctx.as_of
    cfg = load_risk_config()
    seed = cfg.seed_for(as_of) if seed is None else seed
    # Its own table (the pairs drawn before) is an output: its version moves with every write here.
    current = stage_state.fingerprint(
        tables=stage_state.table_versions(spark, settings, [("gold", t) for t in (CLASS_TABLE, *MARTS)]),
        config=repr(cfg), code=stage_state.files_digest(CODE), as_of=as_of.isoformat(), seed=seed)
    if lake.exists(spark, settings, "gold", PLAN_TABLE) and stage_state.unchanged(spark, settings, STAGE, current):
        _save_public_view(spark, settings)
        return {"run_id": run_id, "as_of": as_of.isoformat(), "seed": seed, "skipped": True, "written": False}
    classes = lake.read(spark, settings, "gold", CLASS_TABLE)
    if classes is None:
        raise ValueError("gold.enterprise_risk_class does not exist: run the risk stage (jobs.risk.job) first")
    classes = classes.where(F.col("as_of_date") == F.lit(as_of))
    if classes.isEmpty():
        raise ValueError(f"gold.enterprise_risk_class holds no classes as of {as_of}")
    history = lake.read(spark, settings, "gold", PLAN_TABLE)
    rows = plan(read_gold(spark, settings), classes, history, cfg, as_of, seed, datetime.now()).localCheckpoint()
    written = write_as_of(spark, settings, PLAN_TABLE, rows, as_of, ignore=("drawn_at",))
    by_class = {row["risk_class"]: row["count"] for row in rows.groupBy("risk_class").count().collect()}
    figures = {
        "run_id": run_id, "as_of": as_of.isoformat(), "seed": seed, "inspections": sum(by_class.values()),
        "by_class": dict(sorted(by_class.items())),
        "unstaffed": rows.where(F.col("inspector_cert_nos").isNull()).count(), "written": written,
        "skipped": False,
    }
    _save_public_view(spark, settings)
    stage_state.record(spark, settings, STAGE, run_id, current)
    log.info("inspection plan: %s", figures)
    return figures


def _save_public_view(spark: SparkSession, settings: Settings) -> None:
    # The analyst role reads the plan as it is (conf/regulake.yaml serve.roles): BI gets it as published.
    save_view(spark, settings, "public", PLAN_TABLE, f"SELECT * FROM gold.{PLAN_TABLE}")
