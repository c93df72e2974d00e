"""The risk stage of the main DAG: read the gold marts, classify, write gold.

I/O happens here only; everything between is the pure functions of indicators, scoring,
veto, history, warnings and plan.
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.risk.config import RiskConfig, load_risk_config
from jobs.risk.history import with_transitions
from jobs.risk.indicators import Gold, enterprises_on, indicator_values
from jobs.risk.learned import ScorecardModel, calibrate_cutoffs
from jobs.risk.model import calibrated, model_in_force, store_model
from jobs.risk.scoring import band_class, score_enterprises
from jobs.risk.store import write_as_of
from jobs.risk.veto import apply_vetoes, veto_matches
from jobs.risk.warnings import complaint_surges, risk_warnings
from regulake import lake, stage_state
from regulake.catalog import save_view
from regulake.config import Settings
from regulake.stage import StageContext

log = logging.getLogger(__name__)

CLASS_TABLE = "enterprise_risk_class"
WARNING_TABLE = "risk_warning"
MARTS = (
    "dim_enterprise", "fct_penalty", "fct_inspection", "fct_abnormal_listing", "fct_license", "fct_tax_credit",
    "fct_social_insurance_arrears", "fct_court_dishonest", "fct_hotline_ticket", "fct_sentiment_mention",
    "fct_env_penalty", "bridge_enterprise_person", "dim_person", "dim_officer", "dim_matter",
)
CLASS_COLUMNS = [
    "entity_id", "as_of_date", "risk_score", "risk_class", "veto_reason", "band_class",
    "bas_points", "dyn_points", "reg_points", "rel_points", "soc_points", "top_indicators", "explanation",
    "indicator_points", "previous_as_of_date", "previous_class", "class_change",
    "region_code", "industry_code", "key_field", "config_version", "score_method", "model_version",
]


def read_gold(spark: SparkSession, settings: Settings) -> dict[str, DataFrame | None]:
    gold = {name: lake.read(spark, settings, "gold", name) for name in MARTS}
    missing = [name for name, df in gold.items() if df is None]
    if missing:
        log.warning("gold marts missing (their indicators score as no data): %s", ", ".join(missing))
    return gold


def classify(gold: Gold, history: DataFrame | None, cfg: RiskConfig, as_of: date,
             model: ScorecardModel | None = None) -> tuple[DataFrame, ScorecardModel | None]:
    """The classes of one as-of date with their transitions (CLASS_COLUMNS plus
    previous_veto_reason, which the warnings need), and the model they were scored with.

    A learned `model` without cut-offs is calibrated here, on this date's scores, so that the
    scored classes hold the configured target shares (`cutoffs_for`).
    """
    if gold.get("dim_enterprise") is None:
        raise ValueError("gold.dim_enterprise is required to classify enterprises")
    frame = enterprises_on(gold["dim_enterprise"], as_of).cache()
    gold = {**gold, "enterprises": frame}
    values = indicator_values(gold, as_of, cfg.indicators)
    scored = score_enterprises(frame, values, cfg, model)
    matches = veto_matches(gold, as_of, cfg.vetoes)
    if model is not None and model.cutoffs is None:
        scored = scored.localCheckpoint()
        model = calibrated(model, cutoffs_for(scored, matches, cfg))
        scored = scored.withColumn("band_class", band_class(F.col("risk_score"), cfg, model))
    classes = apply_vetoes(scored, matches, cfg)
    classes = (
        classes.join(frame.select("entity_id", "region_code", "industry_code", "key_field"), "entity_id")
        .withColumn("as_of_date", F.lit(as_of))
        .withColumn("config_version", F.lit(cfg.version))
    )
    return with_transitions(classes, history, as_of).select(*CLASS_COLUMNS, "previous_veto_reason"), model


def cutoffs_for(scored: DataFrame, matches: DataFrame | None, cfg: RiskConfig) -> tuple[float, float, float]:
    """Band cut-offs that give the scored enterprises (vetoed ones apart) the configured target shares.

    Vetoes are policy on top of the score: they raise enterprises whatever their class, so D's
    share is its target plus the vetoed share, and the scored D stays a class of its own whose
    problem-found rate can be compared with each veto's.
    """
    free = scored if matches is None else scored.join(matches.select("entity_id"), "entity_id", "left_anti")
    return calibrate_cutoffs(free.select("risk_score").toPandas()["risk_score"].to_numpy(float),
                             cfg.model.target_shares)


def warn(gold: Gold, classes: DataFrame, cfg: RiskConfig, as_of: date) -> DataFrame:
    """The risk_warning rows of one as-of date from its classes. Pure."""
    surge_rule = cfg.warning("complaint_surge")
    surges = complaint_surges(gold, as_of, surge_rule) if surge_rule else None
    return risk_warnings(classes, surges, cfg)


STAGE = "risk_classes"
CODE = Path(__file__).parent


def input_fingerprint(spark: SparkSession, settings: Settings, cfg: RiskConfig, as_of: date) -> str:
    """The marts' Delta versions, the configuration as loaded, the code and the as-of date.

    The stage's own tables (the history it reads back) are outputs, not inputs: their
    versions move with every write of this stage.
    """
    return stage_state.fingerprint(
        tables=stage_state.table_versions(spark, settings, [("gold", name) for name in MARTS]),
        config=repr(cfg), code=stage_state.files_digest([CODE]), as_of=as_of.isoformat())


def run(ctx: StageContext) -> dict:
    """Write gold.enterprise_risk_class and gold.risk_warning for `ctx.as_of` (idempotent); skipped
    when nothing it reads has changed since its last run."""
    spark, settings, run_id, as_of = ctx.spark, ctx.settings, ctx.run_id, ctx.as_of
    cfg = load_risk_config()
    current = input_fingerprint(spark, settings, cfg, as_of)
    if (all(lake.exists(spark, settings, "gold", t) for t in (CLASS_TABLE, WARNING_TABLE))
            and stage_state.unchanged(spark, settings, STAGE, current)):
        _save_public_views(spark, settings)
        return {"run_id": run_id, "as_of": as_of.isoformat(), "skipped": True, "written": False}
    gold = read_gold(spark, settings)
    history = lake.read(spark, settings, "gold", CLASS_TABLE)
    model, why, fitted_now = model_in_force(spark, settings, gold, cfg, as_of)
    log.info("risk model as of %s: %s", as_of, why)
    # Materialise once before writing: the warnings derive from the classes, and the
    # history is read from the table being written.
    classes, model = classify(gold, history, cfg, as_of, model)
    classes = classes.localCheckpoint()
    if fitted_now:
        store_model(spark, settings, cfg, as_of, model, why)
    warnings = warn(gold, classes, cfg, as_of).localCheckpoint()
    classes = classes.select(*CLASS_COLUMNS)
    wrote_classes = write_as_of(spark, settings, CLASS_TABLE, classes, as_of)
    wrote_warnings = write_as_of(spark, settings, WARNING_TABLE, warnings, as_of)
    by_class = {row["risk_class"]: row["count"] for row in classes.groupBy("risk_class").count().collect()}
    figures = {
        "run_id": run_id, "as_of": as_of.isoformat(), "enterprises": sum(by_class.values()),
        "by_class": dict(sorted(by_class.items())), "vetoed": classes.where(F.col("veto_reason").isNotNull()).count(),
        "warnings": warnings.count(), "written": wrote_classes or wrote_warnings, "skipped": False,
        "model": "hand" if model is None else model.version, "model_reason": why,
    }
    _save_public_views(spark, settings)
    stage_state.record(spark, settings, STAGE, run_id, current)
    log.info("risk classes: %s", figures)
    return figures


def _save_public_views(spark: SparkSession, settings: Settings) -> None:
    # No personal data in either table: BI gets them as they are (at the last published version).
    for table in (CLASS_TABLE, WARNING_TABLE):
        save_view(spark, settings, "public", table, f"SELECT * FROM gold.{table}")
