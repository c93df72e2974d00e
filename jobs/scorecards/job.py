"""The I/O edge: read the gold marts, build gold.efficacy_scorecard, skip when nothing changed."""

from __future__ import annotations

import logging
import time
from datetime import date
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.scorecards.config import CONF_NAME, ScorecardConfig, load_config
from jobs.scorecards.indicators import observations
from jobs.scorecards.scoring import indicator_values, scorecard, unit_names
from regulake import lake, stage_state
from regulake.catalog import save_view
from regulake.config import Settings, conf_file
from regulake.stage import StageContext

log = logging.getLogger(__name__)

STAGE = "scorecards"
TABLE = "efficacy_scorecard"
# What the job reads from gold: only these columns (a table that does not exist yet reads empty).
INPUTS = {
    "fct_inspection": "inspection_id string, entity_id string, department_code string, task_type string, "
                      "is_problem_found boolean, inspection_date date, rectified_date date",
    "fct_penalty": "decision_no string, entity_id string, matter_code string, authority_region_code string, "
                   "decision_date date, is_effective boolean",
    "fct_hotline_ticket": "ticket_id string, entity_id string, is_complaint boolean, region_code string, "
                          "handling_dept string, satisfaction string, received_at timestamp, "
                          "closed_at timestamp, handling_hours double",
    "fct_coop_task": "task_id string, entity_id string, current_dept string, fed_back_at timestamp, deadline date",
    "dim_enterprise": "entity_id string, region_code string, is_current boolean",
    "dim_region": "region_code string, region_name string, prefecture_code string, province_code string",
    "dim_department": "department_code string, department_name string",
    "dim_matter": "matter_code string, department_code string",
    "inspection_plan": "plan_id string, as_of_date date, entity_id string, region_code string, "
                       "department_code string, matter_code string",
    "enterprise_risk_class": "entity_id string, as_of_date date, risk_class string",
}
CODE = Path(__file__).resolve().parent


def _fields(ddl: str) -> list[tuple[str, str]]:
    return [tuple(part.strip().split(" ", 1)) for part in ddl.split(",")]


def read_tables(spark: SparkSession, settings: Settings, inputs: dict[str, str]) -> dict[str, DataFrame]:
    """Each `layer.table` (or gold `table`) of `inputs` as a DataFrame of exactly its DDL columns;
    a table that does not exist yet reads empty, a column it lacks reads null."""
    frames = {}
    for name, ddl in inputs.items():
        layer, table = name.split(".") if "." in name else ("gold", name)
        frame = lake.read(spark, settings, layer, table)
        if frame is None:
            log.info("%s.%s does not exist yet: read as empty", layer, table)
            frames[name] = spark.createDataFrame([], ddl)
            continue
        present = set(frame.columns)
        frames[name] = frame.select(*[
            (F.col(column) if column in present else F.lit(None)).cast(kind).alias(column)
            for column, kind in _fields(ddl)
        ])
    return frames


def read_gold(spark: SparkSession, settings: Settings) -> dict[str, DataFrame]:
    """The scorecards' inputs (INPUTS)."""
    return read_tables(spark, settings, INPUTS)


def compute(gold: dict[str, DataFrame], cfg: ScorecardConfig, as_of: date) -> DataFrame:
    """The scorecard from the gold marts (pure: no I/O)."""
    values = indicator_values(observations(gold, cfg, as_of), gold["dim_region"], cfg)
    return scorecard(values, unit_names(gold["dim_department"], gold["dim_region"]), cfg, as_of)


def input_fingerprint(spark: SparkSession, settings: Settings, as_of: date) -> str:
    return stage_state.fingerprint(
        tables=stage_state.table_versions(spark, settings, [("gold", t) for t in INPUTS]),
        code=stage_state.files_digest([conf_file(CONF_NAME), CODE]),
        as_of=as_of.isoformat(),
    )


def run(ctx: StageContext) -> dict:
    """Rebuild gold.efficacy_scorecard (and its public view) unless its inputs are unchanged."""
    spark, settings, run_id, as_of = ctx.spark, ctx.settings, ctx.run_id, ctx.as_of
    started = time.perf_counter()
    current = input_fingerprint(spark, settings, as_of)
    if lake.exists(spark, settings, "gold", TABLE) and stage_state.unchanged(spark, settings, STAGE, current):
        return {"skipped": True}
    cfg = load_config()
    card = compute(read_gold(spark, settings), cfg, as_of).withColumn("run_id", F.lit(run_id))
    lake.overwrite(spark, settings, "gold", TABLE, card, options={"overwriteSchema": "true"})
    # No personal data in the scorecard: BI gets it as is.
    save_view(spark, settings, "public", TABLE, f"SELECT * FROM gold.{TABLE}")
    stage_state.record(spark, settings, STAGE, run_id, current)
    written = lake.load(spark, settings, "gold", TABLE)
    counts = {f"{r['unit_type']}s": r["count"] for r in written.groupBy("unit_type").count().collect()}
    log.info("gold.%s: %s as of %s in %.1fs", TABLE, counts, as_of, time.perf_counter() - started)
    return {"skipped": False, **counts}
