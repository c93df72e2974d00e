"""Scoring: scales, points, category caps, bands and the per-enterprise explanation."""

from __future__ import annotations

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from jobs.risk.config import load_risk_config, parse_config
from jobs.risk.scoring import band_class, score_enterprises

BANDS = [{"class": "A", "min": 0}, {"class": "B", "min": 200}, {"class": "C", "min": 500}, {"class": "D", "min": 750}]
SAMPLING = {"ratios": {"A": 0.01, "B": 0.02, "C": 0.1, "D": 0.3}}
MODEL = {"method": "hand", "version": "t", "training_window_days": 730, "random_task_types": ["双随机"],
         "min_events": 50, "target_shares": {"A": 0.5, "B": 0.4, "C": 0.06, "D": 0.04}}


def small_config(max_points: float | None = None):
    """Two categories, four indicators: every scale kind and a category cap."""
    first = {"code": "REG", "name": "监管信息", "groups": [{"code": "REG01", "name": "行政处罚", "indicators": [
        {"code": "R1", "name": "处罚次数", "measure": "penalties", "points": 600, "scale": {"linear": {"cap": 3}}},
        {"code": "R2", "name": "近1年处罚", "measure": "penalties", "points": 300, "scale": "flag"},
    ]}]}
    if max_points is not None:
        first["max_points"] = max_points
    second = {"code": "SOC", "name": "社会评价信息", "groups": [{"code": "SOC01", "name": "投诉", "indicators": [
        {"code": "S1", "name": "投诉件数", "measure": "complaints", "points": 200,
         "scale": {"steps": [[1, 0.25], [5, 1.0]]}},
        {"code": "S2", "name": "纳税信用", "measure": "tax_grade_share", "points": 100, "missing": 0.5,
         "scale": {"linear": {"cap": 1}}},
    ]}]}
    return parse_config({"version": "t", "score": {"max": 1000, "explanation_top": 2}, "bands": BANDS,
                         "model": MODEL, "categories": [first, second], "sampling": SAMPLING})


def values(spark, rows):
    return spark.createDataFrame(rows, "entity_id string, indicator_code string, value double")


def frame(spark, ids):
    return spark.createDataFrame([(i,) for i in ids], "entity_id string")


def test_points_per_scale_kind_and_missing_share(spark):
    cfg = small_config()
    scored = score_enterprises(
        frame(spark, ["E1", "E2", "E3"]),
        values(spark, [("E1", "R1", 1.0), ("E1", "R2", 1.0), ("E1", "S1", 2.0), ("E1", "S2", 0.0),
                       ("E2", "R1", 9.0), ("E2", "S1", 5.0), ("E2", "S2", 1.0)]),
        cfg,
    )
    # E1: 600*1/3 + 300 + 200*0.25 + 0; E2: 600 + 0 (R2 null) + 200 + 100, capped at 1000;
    # E3: no data at all, only S2's missing share 0.5 * 100.
    expected = spark.createDataFrame(
        [("E1", 500.0, 50.0, 550.0, "C"), ("E2", 600.0, 300.0, 900.0, "D"), ("E3", 0.0, 50.0, 50.0, "A")],
        "entity_id string, reg_points double, soc_points double, risk_score double, band_class string",
    )
    assertDataFrameEqual(scored.select("entity_id", "reg_points", "soc_points", "risk_score", "band_class"), expected)


def test_category_cap_and_score_cap(spark):
    cfg = small_config(max_points=400)
    scored = score_enterprises(frame(spark, ["E1"]), values(spark, [("E1", "R1", 3.0), ("E1", "R2", 1.0),
                                                                    ("E1", "S1", 5.0), ("E1", "S2", 1.0)]), cfg)
    row = scored.select("reg_points", "soc_points", "risk_score").first()
    assert (row.reg_points, row.soc_points, row.risk_score) == (400.0, 300.0, 700.0)


@pytest.mark.parametrize(("score", "expected"), [
    (0.0, "A"), (199.9, "A"), (200.0, "B"), (499.9, "B"), (500.0, "C"), (749.9, "C"), (750.0, "D"), (1000.0, "D"),
])
def test_henan_bands(spark, score, expected):
    cfg = load_risk_config()
    result = spark.range(1).select(band_class(F.lit(score), cfg).alias("c")).first().c
    assert result == expected


def test_explanation_names_top_indicators_largest_first(spark):
    cfg = small_config()
    scored = score_enterprises(
        frame(spark, ["E1", "E2"]),
        values(spark, [("E1", "R1", 1.0), ("E1", "R2", 1.0), ("E1", "S1", 1.0)]),
        cfg,
    )
    top = scored.select("entity_id", "top_indicators", "explanation", "indicator_points")
    expected = spark.createDataFrame(
        [("E1", [("R2", "近1年处罚", 300.0), ("R1", "处罚次数", 200.0)], "近1年处罚 +300；处罚次数 +200",
          {"R2": 300.0, "R1": 200.0, "S1": 50.0, "S2": 50.0}),
         ("E2", [("S2", "纳税信用", 50.0)], "纳税信用 +50", {"S2": 50.0})],
        "entity_id string, top_indicators array<struct<indicator_code:string,indicator_name:string,points:double>>, "
        "explanation string, indicator_points map<string,double>",
    )
    # S2 has no value: its missing share (0.5 * 100) counts, for E1 below the top two.
    assertDataFrameEqual(top, expected)


def test_shipped_configuration_has_five_categories_with_levels():
    cfg = load_risk_config()
    assert [c.name for c in cfg.categories] == ["企业基础属性信息", "企业动态信息", "监管信息", "关联关系信息", "社会评价信息"]
    for category in cfg.categories:
        assert len({i.group for i in category.indicators}) >= 1 and category.indicators
    assert len(cfg.indicators) >= 25
    assert [v.rule for v in cfg.vetoes] == ["dishonest_active", "serious_penalty"]


def test_configuration_rejects_unknown_measure():
    bad = {"version": "t", "score": {"max": 1000}, "bands": BANDS, "model": MODEL, "sampling": SAMPLING, "categories": [
        {"code": "X", "name": "x", "groups": [{"code": "X1", "name": "x", "indicators": [
            {"code": "X11", "name": "x", "measure": "no_such_measure", "points": 1, "scale": "flag"}]}]}]}
    with pytest.raises(ValueError, match="unknown measure"):
        parse_config(bad)


BASICS = [("BAS0101", 0.5), ("BAS0201", 5.0), ("BAS0301", 0.8), ("BAS0401", 1.0)]   # young, small, 个体, 食品
PROFILES = {
    "clean": ("A", []),
    "one_penalty_one_complaint": ("B", [("REG0101", 1), ("REG0103", 1), ("REG0104", 5000), ("SOC0101", 1),
                                        ("SOC0102", 1)]),
    "abnormal_problem_complaints": ("C", [("REG0301", 1), ("REG0302", 1), ("DYN0201", 1), ("REG0201", 1),
                                          ("REG0202", 1.0), ("SOC0101", 2), ("SOC0102", 2)]),
    "plus_penalties_and_tax_d": ("D", [("REG0301", 1), ("REG0302", 1), ("DYN0201", 1), ("REG0201", 1),
                                       ("REG0202", 1.0), ("SOC0101", 2), ("SOC0102", 2), ("REG0101", 2),
                                       ("REG0102", 1), ("REG0103", 1), ("REG0104", 20000), ("SOC0301", 1.0)]),
}


def test_reference_profiles_land_in_their_bands(spark):
    """The calibration of conf/risk.yaml (docs/RISK.md): each reference profile's class."""
    cfg = load_risk_config()
    rows = [(name, code, float(v)) for name, (_, facts) in PROFILES.items() for code, v in BASICS + facts]
    scored = score_enterprises(frame(spark, list(PROFILES)), values(spark, rows), cfg)
    result = {r.entity_id: r.band_class for r in scored.select("entity_id", "band_class").collect()}
    assert result == {name: expected for name, (expected, _) in PROFILES.items()}


def test_learned_points_read_a_null_count_as_zero_even_below_a_negative_split(spark):
    import pandas as pd

    from jobs.risk.learned import TABLE_COLUMNS, ScorecardModel
    from jobs.risk.scoring import learned_points

    # A trend can be negative: its first bin ends below 0, so 0 falls in the second bin.
    table = pd.DataFrame([("T", 0, float("-inf"), -0.5, False, 0.0, 10, 0.1, 0.0),
                          ("T", 1, -0.5, 2.0, False, 40.0, 10, 0.3, 0.0),
                          ("T", 2, 2.0, float("inf"), False, 90.0, 10, 0.6, 0.0),
                          ("T", 3, float("nan"), float("nan"), True, 5.0, 3, 0.2, 0.0)], columns=list(TABLE_COLUMNS))
    model = ScorecardModel("m", table, ("T",), 30, 10, 0.7)
    rows = spark.createDataFrame([("neg", -3.0), ("zero", 0.0), ("null", None), ("high", 5.0)], "id string, v double")
    points = lambda zero: {r["id"]: r["p"] for r in rows.select(  # noqa: E731
        "id", learned_points(model, "T", F.col("v"), zero).alias("p")).collect()}
    assert points(True) == {"neg": 0.0, "zero": 40.0, "null": 40.0, "high": 90.0}
    assert points(False)["null"] == 5.0                           # unknown: the null bin
