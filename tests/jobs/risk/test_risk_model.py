"""The model in force: fitted once a month on point-in-time rows, stored in the lake, reused,
calibrated to the target shares, and the hand weights (with the reason) when history is thin."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime

import numpy as np
import pytest
from delta.tables import DeltaTable
from pyspark.sql import functions as F

from jobs.risk import job as risk_job
from jobs.risk.config import load_risk_config
from jobs.risk.model import BIN_TABLE, MODEL_TABLE, TRAINING_TABLE, model_in_force, model_version
from tests.stages import context

from .helpers import enterprise, gold

JUNE, JULY, AUGUST = date(2024, 6, 30), date(2024, 7, 31), date(2024, 8, 31)
N = 400


def marts(spark):
    """Penalised enterprises (every third) have problems found far more often."""
    rng = np.random.default_rng(5)
    enterprises = [enterprise(f"E{i:03d}") for i in range(N)]
    penalties, complaints, inspections = [], [], []
    for i in range(N):
        risky = i % 3 == 0
        if risky:
            penalties.append({"decision_no": f"P{i}", "entity_id": f"E{i:03d}", "severity": "一般",
                              "is_serious": False, "decision_date": date(2023, 6, 1), "is_effective": True,
                              "fine_amount": float(1000 + i)})
        for k in range(int(rng.poisson(3.0 if risky else 1.0))):
            complaints.append({"ticket_id": f"T{i}-{k}", "entity_id": f"E{i:03d}", "is_complaint": True,
                               "is_substantiated": bool(rng.random() < 0.5),
                               "received_at": datetime(2023, 9, 1 + k % 28, 10)})
        for k, month in enumerate((2, 4, 5, 7)):   # random inspections in Feb-Jul 2024
            found = bool(rng.random() < (0.7 if risky else 0.12))
            inspections.append({"inspection_id": f"I{i}-{k}", "entity_id": f"E{i:03d}", "task_type": "双随机",
                                "inspection_date": date(2024, month, 1 + i % 27), "is_problem_found": found,
                                "department_code": "SCJG", "matter_code": "M1"})
    return gold(spark, dim_enterprise=enterprises, fct_penalty=penalties, fct_hotline_ticket=complaints,
                fct_inspection=inspections)


@pytest.fixture(scope="module")
def model_lake(spark, lake_settings, tmp_path_factory):
    from regulake.spark import get_spark

    settings = lake_settings.with_overrides(**{"lake.root": str(tmp_path_factory.mktemp("risk_model_lake"))})
    get_spark(settings)
    try:
        for name, df in marts(spark).items():
            if not df.isEmpty():
                df.write.format("delta").save(settings.table_path("gold", name))
        yield settings
    finally:
        get_spark(lake_settings)


def with_min_events(monkeypatch, min_events: int):
    cfg = load_risk_config()
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, min_events=min_events))
    monkeypatch.setattr(risk_job, "load_risk_config", lambda: cfg)
    return cfg


def table(spark, settings, name):
    return spark.read.format("delta").load(settings.table_path("gold", name))


def test_fitted_once_a_month_stored_and_reused(spark, model_lake, monkeypatch):
    cfg = with_min_events(monkeypatch, 40)
    figures = risk_job.run(context(spark, model_lake, "run-june", JUNE))
    version = model_version(cfg, JUNE)
    assert figures["model"] == version, figures
    model = table(spark, model_lake, MODEL_TABLE).where(F.col("model_version") == version).collect()
    assert len(model) == 1 and model[0]["method"] == "learned"
    assert model[0]["cutoff_b"] <= model[0]["cutoff_c"] <= model[0]["cutoff_d"]
    # Only inspections up to the as-of date trained it: February to June, three per enterprise.
    assert model[0]["training_rows"] == 3 * N
    bins = table(spark, model_lake, BIN_TABLE).where(F.col("model_version") == version)
    assert bins.where("indicator_code = 'REG0101'").count() >= 2   # penalties earn points
    assert bins.groupBy("indicator_code").agg(F.min("points").alias("low")).where("low != 0").isEmpty()

    classes = table(spark, model_lake, risk_job.CLASS_TABLE).where(F.col("as_of_date") == F.lit(JUNE))
    assert {(r["score_method"], r["model_version"]) for r in classes.select("score_method", "model_version")
            .distinct().collect()} == {("learned", version)}
    # Classes follow the calibrated cut-offs: penalised enterprises score higher and class higher.
    by_class = {r["band_class"]: (r["low"], r["high"]) for r in classes.groupBy("band_class")
                .agg(F.min("risk_score").alias("low"), F.max("risk_score").alias("high")).collect()}
    ordered = [by_class[c] for c in "ABCD" if c in by_class]
    assert len(ordered) >= 2 and all(a[1] < b[0] for a, b in zip(ordered, ordered[1:], strict=False))
    penalised = classes.where(F.col("entity_id").isin([f"E{i:03d}" for i in range(0, N, 3)]))
    assert penalised.agg(F.avg("risk_score")).first()[0] > classes.agg(F.avg("risk_score")).first()[0]
    assert classes.where(F.size("top_indicators") > 0).count() > 0

    # A rerun in the same month scores with the stored model: nothing is fitted or written again.
    versions = {name: DeltaTable.forPath(spark, model_lake.table_path("gold", name)).history(1).first()["version"]
                for name in (MODEL_TABLE, BIN_TABLE, TRAINING_TABLE)}
    again, _, fitted_now = model_in_force(spark, model_lake, risk_job.read_gold(spark, model_lake), cfg,
                                         date(2024, 6, 20))
    assert again is not None and again.version == version and not fitted_now and again.cutoffs is not None
    assert versions == {name: DeltaTable.forPath(spark, model_lake.table_path("gold", name)).history(1).first()[
        "version"] for name in versions}


def test_next_month_computes_only_new_training_rows(spark, model_lake, monkeypatch):
    with_min_events(monkeypatch, 40)
    risk_job.run(context(spark, model_lake, "run-july", JULY))
    rows = table(spark, model_lake, TRAINING_TABLE)
    assert rows.count() == 4 * N and rows.select("inspection_id").distinct().count() == 4 * N


def test_thin_history_keeps_the_hand_weights_and_says_why(spark, model_lake, monkeypatch):
    cfg = with_min_events(monkeypatch, 100_000)
    figures = risk_job.run(context(spark, model_lake, "run-august", AUGUST))
    assert figures["model"] == "hand" and "too thin" in figures["model_reason"]
    stored = table(spark, model_lake, MODEL_TABLE).where(F.col("model_version") == model_version(cfg, AUGUST)).first()
    assert stored["method"] == "hand" and "too thin" in stored["reason"]
    classes = table(spark, model_lake, risk_job.CLASS_TABLE).where(F.col("as_of_date") == F.lit(AUGUST))
    assert {r["score_method"] for r in classes.select("score_method").distinct().collect()} == {"hand"}
