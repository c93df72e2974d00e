"""Batch jobs of the lakehouse, one package per stage: landing, silver, linking, risk, scorecards."""
