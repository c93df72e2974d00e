"""dbt theme libraries: silver + entity links -> gold themes -> public BI views.

Runner: `jobs.dbt.job.run(ctx)` (skipped when its inputs are unchanged); `job.dbt_build` runs dbt itself.
`make generate` regenerates the dbt sources, staging docs and seeds from schemas/ and regulake/reference/.
Themes and the analyst's query: docs/THEMES.md.
"""
