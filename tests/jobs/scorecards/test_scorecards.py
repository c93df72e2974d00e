"""gold.efficacy_scorecard against figures computed by hand on tests/jobs/scorecards/helpers.py.

Weights (conf/scorecards.yaml): coverage 20, problem-found 10, lift 10, rectification rate 15,
rectification days 10, closure hours 10, satisfaction 10, coop feedback 10, penalty publicity 5;
score = clamp((v - floor) / (target - floor)); total = 100 * sum(w * s) / sum(w over scored).

Department SCJG, 2024-03:
  coverage      P1/E1 done by I1, P1/E2 by I2              2/2 = 1.0        -> 1
  problem found random I1 yes, I2 no, I3 yes                2/3 = 0.6667     -> 1 (target 0.3)
  lift          class D: 1/1; all classed 2/3               1.5              -> 0.5
  rectification I1 rectified, I3 not                       1/2 = 0.5        -> 0
  days          I1 10 days                                 10               -> 1
  closure hours T1 48, T2 96                               72               -> (72-360)/(48-360) = 0.9231
  satisfaction  T1 满意, T2 不满意                          0.5              -> 0
  penalties     F1 standing, F2 revoked                    0.5              -> 0
  total = 100 * (20 + 10 + 5 + 0 + 10 + 9.2308 + 0 + 0) / 90 = 60.26 -> yellow, rank 1
Department WJ, 2024-03: coverage P2/E3 not done 0 -> 0; problem found I6 no 0 -> 0; lift: no
  class C/D inspected -> no value; coop C1 on time, C2 late 0.5 -> 0 (C3 not due);
  total = 0 / 40 = 0 -> red, rank 2.
Department SCJG, year 2024 adds I4 (重点, Feb, rectified after 40 days): rectification 2/3 ->
  (0.6667-0.5)/0.5 = 0.3333; days (10+40)/2 = 25 -> 35/45 = 0.7778;
  total = 100 * (20 + 10 + 5 + 5 + 7.7778 + 9.2308) / 90 = 63.34 -> yellow.
Department SCJG, 2024-02: only I4: rectification 1 -> 1, days 40 -> 0.4444; 100 * 19.4444 / 25 = 77.78.
Region 410100 (E1, E3), 2024-03: coverage 1/2 -> 0; problem found I1, I3 1.0 -> 1; lift D 1/1 over
  2/2 = 1.0 -> 0; rectification 1/2 -> 0; days 10 -> 1; closure T1 48 -> 1; satisfaction 1 -> 1;
  coop C1 1 -> 1; penalty F1 1 -> 1; all nine scored: total = 100 * 55 / 100 = 55.0 -> red, rank 1.
Region 410300 (E2; T2 and F2 placed by the enterprise), 2024-03: coverage 1 -> 1; problem found
  I2, I6 0 -> 0; lift none; closure 96 -> 264/312 = 0.8462; satisfaction 0; coop C2 0; penalty 0;
  total = 100 * (20 + 8.4615) / 65 = 43.79 -> red, rank 2.
"""

from __future__ import annotations

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from jobs.scorecards import job as scorecards_job
from jobs.scorecards.config import load_config, parse_config
from jobs.scorecards.job import compute, input_fingerprint
from jobs.scorecards.scoring import band
from regulake import stage_state
from tests.jobs.scorecards import helpers as fixture
from tests.stages import context

SUMMARY = ["unit_type", "unit_code", "unit_name", "period", "total_score", "rank", "units_ranked", "band"]


@pytest.fixture(scope="module")
def card(spark):
    return compute(fixture.gold(spark), load_config(), fixture.AS_OF).cache()


def test_monthly_totals_ranks_and_bands(spark, card):
    expected = spark.createDataFrame(
        [("department", "SCJG", "市场监督管理局", "2024-03", 60.26, 1, 2, "yellow"),
         ("department", "WJ", "卫生健康委员会", "2024-03", 0.0, 2, 2, "red"),
         ("region", "410100", "郑州市", "2024-03", 55.0, 1, 2, "red"),
         ("region", "410300", "洛阳市", "2024-03", 43.79, 2, 2, "red")],
        card.select(*SUMMARY).schema,
    )
    assertDataFrameEqual(card.where("period = '2024-03'").select(*SUMMARY), expected)


def test_indicator_values_and_scores(spark, card):
    columns = ["unit_code", "inspection_coverage", "problem_found_rate", "targeting_lift", "rectification_rate",
               "rectification_days", "complaint_closure_hours", "complaint_satisfaction",
               "coop_feedback_on_time", "penalty_publicity"]
    expected = spark.createDataFrame(
        [("SCJG", 1.0, 0.6667, 1.5, 0.5, 10.0, 72.0, 0.5, None, 0.5),
         ("WJ", 0.0, 0.0, None, None, None, None, None, 0.5, None),
         ("410100", 0.5, 1.0, 1.0, 0.5, 10.0, 48.0, 1.0, 1.0, 1.0),
         ("410300", 1.0, 0.0, None, None, None, 96.0, 0.0, 0.0, 0.0)],
        card.select(*columns).schema,
    )
    assertDataFrameEqual(card.where("period = '2024-03'").select(*columns), expected)
    scores = card.where("period = '2024-03' and unit_code = 'SCJG'").select(
        "targeting_lift_score", "targeting_lift_n", "complaint_closure_hours_score", "indicators_scored").first()
    assert tuple(scores) == (0.5, 1, 0.9231, 8)


def test_year_and_other_months(spark, card):
    rows = card.where("unit_code = 'SCJG'").select(
        "period_type", "period", "rectification_rate", "rectification_days", "total_score", "band")
    expected = spark.createDataFrame(
        [("month", "2024-02", 1.0, 40.0, 77.78, "yellow"),
         ("month", "2024-03", 0.5, 10.0, 60.26, "yellow"),
         ("year", "2024", 0.6667, 25.0, 63.34, "yellow")],
        rows.schema,
    )
    assertDataFrameEqual(rows, expected)
    # Nothing after the as-of date is scored (I5 of 2024-04, C3 due 2024-04-10).
    assert card.where("period > '2024-03' and period_type = 'month'").count() == 0


def test_bands_follow_the_configured_thresholds(spark):
    cfg = parse_config({**load_config().raw, "bands": [{"band": "green", "min": 60}, {"band": "yellow", "min": 50},
                                                       {"band": "red", "min": 0}]})
    totals = spark.createDataFrame([(60.26,), (60.0,), (55.0,), (49.99,), (0.0,), (None,)], "total double")
    assert [r[0] for r in totals.select(band(F.col("total"), cfg)).collect()] == [
        "green", "green", "yellow", "red", "red", None]


def test_unknown_indicator_is_rejected():
    raw = load_config().raw
    with pytest.raises(ValueError, match="unknown indicators"):
        parse_config({**raw, "indicators": [*raw["indicators"], {"code": "x", "name": "x", "weight": 1,
                                                                  "floor": 0, "target": 1}]})


def test_build_is_idempotent_and_reads_missing_inputs_as_empty(spark, lake_settings):
    # Only four marts exist (no plan, no risk classes, no complaints, tasks or penalties yet).
    fixture.write_lake(spark, lake_settings, ["fct_inspection", "dim_enterprise", "dim_region", "dim_department"])
    path = lake_settings.table_path("gold", "efficacy_scorecard")
    first = scorecards_job.run(context(spark, lake_settings, "run-1", fixture.AS_OF))
    assert first["skipped"] is False and first["departments"] == 5  # SCJG 2024-02, 2024-03, 2024; WJ 2024-03, 2024
    version = stage_state.delta_version(spark, path)
    assert scorecards_job.run(context(spark, lake_settings, "run-2", fixture.AS_OF)) == {"skipped": True}
    assert stage_state.delta_version(spark, path) == version
    # SCJG 2024-03 from inspections alone: problem found 2/3 -> 1, rectification 1/2 -> 0, 10 days -> 1:
    # 100 * (10 + 0 + 10) / (10 + 15 + 10) = 57.14
    row = spark.table("public.efficacy_scorecard").where("period = '2024-03' and unit_code = 'SCJG'").first()
    assert (row.total_score, row.indicators_scored, row.inspection_coverage, row.run_id) == (57.14, 3, None, "run-1")
    # Another as-of date is another input.
    assert input_fingerprint(spark, lake_settings, fixture.AS_OF.replace(day=30)) != \
        input_fingerprint(spark, lake_settings, fixture.AS_OF)
