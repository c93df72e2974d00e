"""双随机 plan: ratios within sampling error, the inspector constraints, reproducibility."""

from __future__ import annotations

import dataclasses
import math
from datetime import date, datetime

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from jobs.risk.config import load_risk_config
from jobs.risk.plan import draw_plan, eligible_matters, officers_on_duty, previous_pairs

from .helpers import officer, table

AS_OF = date(2024, 3, 31)
DRAWN = datetime(2024, 4, 1, 8)
PREFECTURES = ["4101", "4102", "4103"]
CLASS_SIZES = {"A": 1600, "B": 1500, "C": 600, "D": 300}


def config(**sampling):
    cfg = load_risk_config()
    return dataclasses.replace(cfg, sampling={**cfg.sampling, **sampling})


@pytest.fixture(scope="module")
def setting(spark):
    """4,000 enterprises over 3 prefectures (2 counties each), 5 双随机 matters, officers."""
    rows, index = [], 0
    for risk_class, size in CLASS_SIZES.items():
        for _ in range(size):
            county = f"{PREFECTURES[index % 3]}0{1 + index % 2}"
            rows.append((f"E{index:05d}", risk_class, county))
            index += 1
    classes = spark.createDataFrame(rows, "entity_id string, risk_class string, region_code string").cache()
    matters = table(spark, "dim_matter", [
        {"matter_code": f"M{i}", "department_code": dept, "methods": ["双随机", "重点监管"], "object_types": ["法人"],
         "is_listed": True}
        for i, dept in enumerate(["SCJG", "SCJG", "SCJG", "HB", "HB"])
    ] + [
        {"matter_code": "M8", "department_code": "SCJG", "methods": ["专项检查"], "object_types": ["法人"], "is_listed": True},
        {"matter_code": "M9", "department_code": "SCJG", "methods": ["双随机"], "object_types": ["法人"], "is_listed": False},
    ])
    officers = []
    for p in PREFECTURES:
        officers += [officer(f"{p}01SCJG{i}", "SCJG", f"{p}01") for i in range(3)]
        officers += [officer(f"{p}00SCJG9", "SCJG", f"{p}00")]          # a city-level officer
        officers += [officer(f"{p}01SCJG8", "SCJG", f"{p}01", status="离岗")]
    officers += [officer("410101HB1", "HB", "410101"), officer("410201HB1", "HB", "410201"),
                 officer("410202HB2", "HB", "410202"), officer("410301HB1", "HB", "410301"),
                 officer("410302HB2", "HB", "410302")]
    # E00000's legal representative is also an officer of its prefecture.
    officers += [officer("410101SCJG7", "SCJG", "410101", ric="410105198001010011")]
    reps = spark.createDataFrame([("E00000", "410105198001010011")], "entity_id string, ric string")
    return classes, eligible_matters(matters, load_risk_config()), officers_on_duty(table(spark, "dim_officer", officers), AS_OF), reps


def draw(setting, cfg, seed=42, previous=None):
    classes, matters, officers, reps = setting
    return draw_plan(classes, matters, officers, reps, previous, cfg, AS_OF, seed, DRAWN)


def test_ratios_within_sampling_error(setting):
    cfg = load_risk_config()
    plan = draw(setting, cfg).cache()
    counts = {r["risk_class"]: r["count"] for r in plan.groupBy("risk_class").count().collect()}
    for risk_class, size in CLASS_SIZES.items():
        p = cfg.sampling["ratios"][risk_class]
        tolerance = 3 * math.sqrt(size * p * (1 - p)) + 1
        assert abs(counts.get(risk_class, 0) - size * p) <= tolerance, (risk_class, counts, size * p)
    assert plan.select("entity_id", "matter_code").distinct().count() == plan.count()
    assert {r.matter_code for r in plan.select("matter_code").distinct().collect()} <= {"M0", "M1", "M2", "M3", "M4"}


def test_every_inspection_has_two_valid_inspectors(setting, spark):
    cfg = config(ratios={"A": 0.2, "B": 0.2, "C": 0.5, "D": 1.0})
    plan = draw(setting, cfg).cache()
    _, _, officers, reps = setting
    assert plan.where(F.col("inspector_cert_nos").isNull()).count() == 0
    assert plan.where(F.size(F.array_distinct("inspector_cert_nos")) != 2).count() == 0
    pairs = plan.select("entity_id", "department_code", "region_code", "officer_scope",
                        F.explode("inspector_cert_nos").alias("cert_no"))
    joined = pairs.join(officers.withColumnRenamed("region_code", "officer_region"), "cert_no", "left")
    # 在岗, of the matter's department, in the enterprise's prefecture unless widened.
    assert joined.where(F.col("dept_code").isNull()).count() == 0
    assert joined.where(F.col("dept_code") != F.col("department_code")).count() == 0
    same_prefecture = F.substring("officer_region", 1, 4) == F.substring("region_code", 1, 4)
    assert joined.where((F.col("officer_scope") == "prefecture") & ~same_prefecture).count() == 0
    # HB has one officer in prefecture 4101 (widened to the province), two in 4102 and 4103.
    scopes = {(r.department_code, r.stratum_region, r.officer_scope)
              for r in plan.select("department_code", "stratum_region", "officer_scope").distinct().collect()}
    assert ("HB", "4101", "province") in scopes and ("HB", "4102", "prefecture") in scopes
    assert ("HB", "4101", "prefecture") not in scopes
    # Never the legal representative's own certificate.
    rep_officer = plan.where((F.col("entity_id") == "E00000") & F.array_contains("inspector_cert_nos", "410101SCJG7"))
    assert rep_officer.count() == 0
    assert joined.join(reps.withColumnRenamed("ric", "officer_ric"), ["entity_id", "officer_ric"]).count() == 0


def test_never_the_same_pair_twice_in_a_row(setting, spark):
    cfg = config(ratios={"A": 1.0, "B": 1.0, "C": 1.0, "D": 1.0})
    first = draw(setting, cfg).where(F.col("entity_id") < "E00300").cache()
    # Pretend the first draw was last month's plan: this month's draw with the same seed
    # would repeat every pair; the rule makes each enterprise's pair differ.
    history = first.withColumn("as_of_date", F.lit(date(2024, 2, 29)))
    previous = previous_pairs(history, None, AS_OF)
    second = draw(setting, cfg, previous=previous).where(F.col("entity_id") < "E00300")
    compared = second.alias("s").join(first.alias("f"), "entity_id").where(
        F.array_sort("s.inspector_cert_nos") == F.array_sort("f.inspector_cert_nos"))
    assert compared.count() == 0
    assert second.where(F.col("inspector_cert_nos").isNull()).count() == 0


def test_previous_pair_is_the_latest_planned_or_performed(spark):
    history = spark.createDataFrame([("E1", date(2024, 2, 29), ["B", "A"]), ("E1", date(2024, 3, 31), ["X", "Y"])],
                                    "entity_id string, as_of_date date, inspector_cert_nos array<string>")
    inspections = table(spark, "fct_inspection", [
        {"inspection_id": "I1", "entity_id": "E1", "inspection_date": date(2024, 1, 5), "inspector_cert_nos": ["C", "D"]},
        {"inspection_id": "I2", "entity_id": "E2", "inspection_date": date(2024, 3, 5), "inspector_cert_nos": ["F", "E"]},
    ])
    assertDataFrameEqual(previous_pairs(history, inspections, AS_OF),
                         spark.createDataFrame([("E1", ["A", "B"]), ("E2", ["E", "F"])],
                                               "entity_id string, previous_pair array<string>"))


def test_reproducible_from_the_recorded_seed(setting):
    cfg = load_risk_config()
    seed = cfg.seed_for(AS_OF)
    first = draw(setting, cfg, seed=seed)
    assert {r.seed for r in first.select("seed").distinct().collect()} == {seed}
    assertDataFrameEqual(draw(setting, cfg, seed=seed), first)
    other = draw(setting, cfg, seed=seed + 1)
    assert other.select("entity_id").exceptAll(first.select("entity_id")).count() > 0
