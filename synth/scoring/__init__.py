"""Scoring the pipeline against the generator's truth: linking and risk reports, the linking model's training."""
