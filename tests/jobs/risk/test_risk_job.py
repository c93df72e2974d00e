"""The DAG stages on a small gold lake: coverage, history, idempotent reruns (no new Delta version)."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime

import pytest
from delta.tables import DeltaTable
from pyspark.sql import functions as F

from jobs.inspection import job as inspection_job
from jobs.risk import job as risk_job
from jobs.risk.config import load_risk_config
from tests.stages import context

from .helpers import enterprise, gold, officer

FEB, MAR = date(2024, 2, 29), date(2024, 3, 31)


def marts(spark):
    enterprises = [enterprise(f"E{i:03d}", region=f"4101{i % 3:02d}", established=date(2015 + i % 8, 1, 1))
                   for i in range(40)]
    enterprises += [
        # E900: 存续 until revoked on 2024-03-15: classed in February only.
        enterprise("E900", valid_to=datetime(2024, 3, 15, 9)),
        enterprise("E900", status="吊销", valid_from=datetime(2024, 3, 15, 9), version=2),
        # E901: renamed in March, two versions: classed once per as-of date.
        enterprise("E901", valid_to=datetime(2024, 3, 2, 9)),
        enterprise("E901", name="新名称", valid_from=datetime(2024, 3, 2, 9), version=2),
        # E902: registered in March: classed in March only.
        enterprise("E902", established=date(2024, 3, 10), valid_from=datetime(2024, 3, 10, 9)),
        enterprise("E903", status="注销"),
    ]
    return gold(
        spark,
        dim_enterprise=enterprises,
        fct_penalty=[{"decision_no": "P1", "entity_id": "E001", "severity": "严重", "is_serious": True,
                      "decision_date": date(2024, 3, 20), "is_effective": True, "fine_amount": 50000.0}],
        fct_court_dishonest=[{"record_id": "C1", "entity_id": "E002", "is_natural_person": False,
                              "publish_date": date(2023, 1, 1), "performance_status": "全部未履行"}],
        fct_abnormal_listing=[{"record_id": "A1", "entity_id": "E003", "reason": "未按规定报送年度报告",
                               "listed_date": date(2023, 7, 1)}],
        dim_matter=[{"matter_code": "M1", "department_code": "SCJG", "methods": ["双随机"], "object_types": ["法人"],
                     "is_listed": True}],
        dim_officer=[officer(f"O{i}", "SCJG", f"4101{i % 3:02d}") for i in range(6)],
    )


@pytest.fixture(scope="module")
def risk_lake(spark, lake_settings, tmp_path_factory):
    from regulake.spark import get_spark

    settings = lake_settings.with_overrides(**{"lake.root": str(tmp_path_factory.mktemp("risk_lake"))})
    get_spark(settings)
    try:
        for name, df in marts(spark).items():
            if not df.isEmpty():  # absent marts are allowed: their indicators score as no data
                df.write.format("delta").save(settings.table_path("gold", name))
        yield settings
    finally:
        get_spark(lake_settings)


@pytest.fixture(scope="module")
def classified(spark, risk_lake):
    """The February, then the March run (March sees February as its history)."""
    return risk_job.run(context(spark, risk_lake, "run-feb", FEB)), risk_job.run(context(spark, risk_lake, "run-mar", MAR))


def version(spark, settings, name):
    return DeltaTable.forPath(spark, settings.table_path("gold", name)).history(1).first()["version"]


def test_classes_cover_each_operating_enterprise_once_per_as_of(spark, risk_lake, classified):
    feb, mar = classified
    assert feb["enterprises"] == 42 and mar["enterprises"] == 42
    classes = spark.read.format("delta").load(risk_lake.table_path("gold", "enterprise_risk_class"))
    assert classes.groupBy("entity_id", "as_of_date").count().where("count > 1").count() == 0
    ids = {d: {r.entity_id for r in classes.where(F.col("as_of_date") == d).collect()} for d in (FEB, MAR)}
    assert "E900" in ids[FEB] and "E900" not in ids[MAR]
    assert "E902" in ids[MAR] and "E902" not in ids[FEB]
    assert "E903" not in ids[FEB] | ids[MAR] and "E901" in ids[FEB] & ids[MAR]
    march = {r.entity_id: r for r in classes.where(F.col("as_of_date") == MAR).collect()}
    assert march["E001"].risk_class == "D" and march["E001"].veto_reason.startswith("近3年")
    assert march["E001"].previous_class != "D" and march["E001"].class_change >= 1
    assert march["E002"].risk_class == "D" and march["E002"].previous_class == "D"
    assert march["E003"].explanation and march["E003"].reg_points > 0
    warnings = spark.read.format("delta").load(risk_lake.table_path("gold", "risk_warning"))
    assert warnings.where((F.col("as_of_date") == MAR) & (F.col("entity_id") == "E001")
                          & (F.col("warning_level") == "red")).count() == 1
    assert spark.catalog.tableExists("gold.enterprise_risk_class")


def test_rerun_writes_no_new_version(spark, risk_lake, classified, monkeypatch):
    # Draw every enterprise so the plan is not empty on 42 enterprises.
    cfg = load_risk_config()
    everyone = dataclasses.replace(cfg, sampling={**cfg.sampling, "ratios": dict.fromkeys("ABCD", 1.0)})
    monkeypatch.setattr(risk_job, "load_risk_config", lambda: everyone)
    monkeypatch.setattr(inspection_job, "load_risk_config", lambda: everyone)  # its own stage, its own import
    inspection_job.run(context(spark, risk_lake, "run-1", MAR))
    before = {name: version(spark, risk_lake, name) for name in ("enterprise_risk_class", "risk_warning", "inspection_plan")}
    again = risk_job.run(context(spark, risk_lake, "run-2", MAR))
    plan = inspection_job.run(context(spark, risk_lake, "run-2", MAR))
    after = {name: version(spark, risk_lake, name) for name in before}
    assert after == before and not again["written"] and not plan["written"]
    rows = spark.read.format("delta").load(risk_lake.table_path("gold", "inspection_plan"))
    assert rows.count() == 42 and rows.where(F.size("inspector_cert_nos") != 2).count() == 0
    assert {r.seed for r in rows.select("seed").distinct().collect()} == {7_2024_03_31}
