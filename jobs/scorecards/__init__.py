"""Supervision efficacy scorecards (监管工作情况评估): gold.efficacy_scorecard, per department and region.

Runner: `jobs.scorecards.job.run(ctx)`. Indicators, weights, targets and bands: conf/scorecards.yaml;
what each one means: docs/SCORECARDS.md.
"""
