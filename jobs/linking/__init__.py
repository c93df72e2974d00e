"""Entity resolution (issue 5): silver records -> registered enterprises (gold.entity_xref).

Entry point for the DAG: `link_entities(spark, settings, run_id) -> dict`.
Modules: mentions (what refers to a business), deterministic (identifiers, persons),
features (names, regions, blocking keys), scoring (Splink + decision), persons
(gold.enterprise_person), job (I/O, incremental runs), report and train (against
generator truth). Design and measured quality: docs/LINKING.md.
"""

from jobs.linking.job import link_entities

__all__ = ["link_entities"]
