"""Entity resolution: silver records -> registered enterprises (gold.entity_xref, gold.enterprise_person).

Runner: `jobs.linking.job.run(ctx)`. Modules: mentions (what refers to a business), deterministic
(identifiers, persons), features (names, regions, blocking keys), scoring (Splink + decision), persons
(gold.enterprise_person), job (I/O, incremental runs). Design and measured quality: docs/LINKING.md.
"""
