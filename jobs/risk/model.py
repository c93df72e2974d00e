"""The risk model in force on an as-of date: fitted once a month, versioned in the lake.

`model_in_force` returns the learned scorecard of the as-of month, fitting it on the first
run of a month: the random inspections of the training window (conf/risk.yaml `model`),
each with its indicators as of the month end before it (training.py), binned and weighted
by learned.py. When history is too thin, or `model.method` is `hand`, it returns None and
the hand weights and bands stay in force; either way the decision is stored, so every run
of the month scores alike and says why.

Tables (gold):
- risk_model: one row per model version: method, training window, rows, events, in-sample
  AUC, band cut-offs (calibrated on the classes of the fitting run), the reason.
- risk_model_bin: the learned bins and points (learned.TABLE_COLUMNS) per model version.
- risk_training_row: the point-in-time indicator values of each random inspection, per
  configuration version; computed once, so a month's fit computes only its new inspections.

The model version is `<model.version>/<config version>/<YYYY-MM>`: a new month, a new
indicator definition or a new fitting method each gives a new model.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import date, datetime, timedelta

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.risk.config import RiskConfig
from jobs.risk.indicators import Gold
from jobs.risk.learned import TABLE_COLUMNS, ScorecardModel, fit_scorecard, too_thin
from jobs.risk.training import LABEL, features, point_in_time_values, random_inspections
from regulake import lake
from regulake.config import Settings

log = logging.getLogger(__name__)

MODEL_TABLE = "risk_model"
BIN_TABLE = "risk_model_bin"
TRAINING_TABLE = "risk_training_row"
MODEL_COLUMNS = ("model_version", "config_version", "fit_month", "fitted_on", "method", "window_start",
                 "window_end", "training_rows", "training_events", "auc_in_sample", "cutoff_b", "cutoff_c",
                 "cutoff_d", "reason", "fitted_at")
BIN_SCHEMA = ("model_version string, indicator_code string, bin_no int, lower double, upper double, "
              "is_missing boolean, points double, count long, event_rate double, woe double")


def model_version(cfg: RiskConfig, as_of: date) -> str:
    return f"{cfg.model.version}/{cfg.version}/{as_of:%Y-%m}"


def model_in_force(spark: SparkSession, settings: Settings, gold: Gold, cfg: RiskConfig,
                   as_of: date) -> tuple[ScorecardModel | None, str, bool]:
    """(model, why, needs_calibration): the learned model of the as-of month, or None for the hand
    weights. A model fitted now has no cut-offs yet: the caller calibrates them on the classes
    it computes and stores the model with `store_model`."""
    version = model_version(cfg, as_of)
    if cfg.model.method == "hand":
        return None, "hand weights (conf/risk.yaml model.method: hand)", False
    if gold.get("fct_inspection") is None:
        return None, "no inspection history (gold.fct_inspection absent): hand weights", False
    stored = _stored(spark, settings, version)
    if stored is not None:
        return stored
    window_start = as_of - timedelta(days=cfg.model.training_window_days)
    inspections = random_inspections(gold["fct_inspection"], list(cfg.model.random_task_types), window_start, as_of)
    counts = inspections.agg(F.count(F.lit(1)).alias("rows"), F.sum(F.col(LABEL).cast("int")).alias("events")).first()
    rows, events = int(counts["rows"]), int(counts["events"] or 0)
    base = {"model_version": version, "window_start": window_start, "window_end": as_of,
            "training_rows": rows, "training_events": events}
    if too_thin(events, rows, cfg.model.min_events):
        why = (f"history too thin: {events} problem-found and {rows - events} problem-free random inspections "
               f"from {window_start} to {as_of}, {cfg.model.min_events} of each needed; hand weights")
        _store_decision(spark, settings, cfg, as_of, {**base, "method": "hand", "reason": why})
        return None, why, False
    frame = training_frame(spark, settings, gold, cfg, inspections)
    codes = [indicator.code for indicator in cfg.indicators]
    # Counts without a record are 0 in the frame already; a null there means no data (uncovered).
    model = fit_scorecard(frame, codes, version, min_events=cfg.model.min_events, min_iv=cfg.model.min_iv,
                          max_score=cfg.max_score)
    if model is None:
        why = f"no indicator separated problem-found from problem-free inspections ({rows} rows); hand weights"
        _store_decision(spark, settings, cfg, as_of, {**base, "method": "hand", "reason": why})
        return None, why, False
    why = (f"learned scorecard {version} fitted on {rows} random inspections ({events} problem-found) from "
           f"{window_start} to {as_of}; in-sample AUC {model.auc_in_sample}")
    return model, why, True


def store_model(spark: SparkSession, settings: Settings, cfg: RiskConfig, as_of: date, model: ScorecardModel,
                why: str) -> None:
    """Store a calibrated model: its bins, then its row (the row is what marks it stored)."""
    bins = model.table.assign(model_version=model.version)[["model_version", *TABLE_COLUMNS]]
    rows = [(r.model_version, str(r.indicator_code), int(r.bin_no), _number(r.lower), _number(r.upper),
             bool(r.is_missing), float(r.points), int(r.count), _number(r.event_rate), _number(r.woe))
            for r in bins.itertuples(index=False)]
    lake.overwrite(spark, settings, "gold", BIN_TABLE, spark.createDataFrame(rows, BIN_SCHEMA),
                   replace_where=f"model_version = '{model.version}'")
    window_start = as_of - timedelta(days=cfg.model.training_window_days)
    _store_decision(spark, settings, cfg, as_of, {
        "model_version": model.version, "method": "learned", "window_start": window_start, "window_end": as_of,
        "training_rows": model.rows, "training_events": model.events, "auc_in_sample": model.auc_in_sample,
        "cutoff_b": model.cutoffs[0], "cutoff_c": model.cutoffs[1], "cutoff_d": model.cutoffs[2], "reason": why})


def _number(value) -> float | None:
    """NaN (an empty bin's rate, the null bin's bounds) as null; infinite bounds stay."""
    return None if value is None or value != value else float(value)


def _store_decision(spark: SparkSession, settings: Settings, cfg: RiskConfig, as_of: date, row: dict) -> None:
    full = {"config_version": cfg.version, "fit_month": f"{as_of:%Y-%m}", "fitted_on": as_of,
            "auc_in_sample": None, "cutoff_b": None, "cutoff_c": None, "cutoff_d": None,
            "fitted_at": datetime.now(), **row}
    schema = ("model_version string, config_version string, fit_month string, fitted_on date, method string, "
              "window_start date, window_end date, training_rows long, training_events long, auc_in_sample double, "
              "cutoff_b double, cutoff_c double, cutoff_d double, reason string, fitted_at timestamp")
    frame = spark.createDataFrame([tuple(full[c] for c in MODEL_COLUMNS)], schema)
    lake.merge(spark, settings, "gold", MODEL_TABLE, frame, "t.model_version = s.model_version", update=True)
    log.info("risk model %s: %s", row["model_version"], row["reason"])


def _stored(spark: SparkSession, settings: Settings, version: str) -> tuple[ScorecardModel | None, str, bool] | None:
    models = lake.read(spark, settings, "gold", MODEL_TABLE)
    row = None if models is None else models.where(F.col("model_version") == version).first()
    if row is None:
        return None
    if row["method"] != "learned":
        return None, row["reason"], False
    table = (lake.load(spark, settings, "gold", BIN_TABLE).where(F.col("model_version") == version)
             .select(*TABLE_COLUMNS).toPandas().sort_values(["indicator_code", "bin_no"]))
    model = ScorecardModel(version=version, table=table, indicators=tuple(table["indicator_code"].unique()),
                           rows=int(row["training_rows"]), events=int(row["training_events"]),
                           auc_in_sample=float(row["auc_in_sample"]),
                           cutoffs=(row["cutoff_b"], row["cutoff_c"], row["cutoff_d"]))
    return model, row["reason"], False


def training_frame(spark: SparkSession, settings: Settings, gold: Gold, cfg: RiskConfig,
                   inspections: DataFrame) -> pd.DataFrame:
    """The training rows of `inspections` as pandas (label, then one column per indicator: `features`).

    Indicator values are computed once per inspection and kept in gold.risk_training_row
    (per configuration version): only inspections not yet there are computed now.
    """
    stored = lake.read(spark, settings, "gold", TRAINING_TABLE)
    stored = None if stored is None else stored.where(F.col("config_version") == cfg.version)
    new = inspections if stored is None else inspections.join(stored.select("inspection_id"), "inspection_id",
                                                                "left_anti")
    new = new.localCheckpoint()
    if not new.isEmpty():
        values = point_in_time_values(gold, cfg, new)
        lake.append(spark, settings, "gold", TRAINING_TABLE, values.withColumn("config_version", F.lit(cfg.version)),
                    options={"mergeSchema": "true"})
        stored = lake.load(spark, settings, "gold", TRAINING_TABLE).where(F.col("config_version") == cfg.version)
    rows = inspections.select("inspection_id", LABEL).join(
        stored.select("inspection_id", "indicator_values", "uncovered"), "inspection_id").toPandas()
    return pd.concat([rows[["inspection_id", LABEL]], features(rows, cfg)], axis=1)


def calibrated(model: ScorecardModel, cutoffs: tuple[float, float, float]) -> ScorecardModel:
    return replace(model, cutoffs=tuple(float(c) for c in cutoffs))
