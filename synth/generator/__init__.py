"""Synthetic landing generator (`regulake generate`).

Writes deliveries of all 15 feeds of the data exchange standard for a synthetic Henan
enterprise population, with every defect the standard lists planted at configurable rates
(conf/generator.yaml), plus the ground truth the pipeline is scored against. See
docs/GENERATOR.md.
"""

from .run import GenerationSummary, generate, load_generator_config, plan_deliveries

__all__ = ["GenerationSummary", "generate", "load_generator_config", "plan_deliveries"]
