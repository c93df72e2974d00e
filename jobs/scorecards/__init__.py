"""Supervision efficacy scorecards (监管工作情况评估): gold.efficacy_scorecard, per department and region.

    from jobs.scorecards import build_scorecards
    build_scorecards(spark, settings, run_id, as_of)

Indicators, weights, targets and bands: conf/scorecards.yaml; what each one means: docs/SCORECARDS.md.
"""

from jobs.scorecards.job import build_scorecards, compute, read_gold

__all__ = ["build_scorecards", "compute", "read_gold"]
