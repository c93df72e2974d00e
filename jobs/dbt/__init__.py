"""dbt theme libraries (issue 6): silver + entity links -> gold themes -> public BI views.

Entry point for the DAG (after linking): `build_themes(spark, settings, run_id, as_of) -> dict`
(`dbt_build`, skipped when its inputs are unchanged).
`python -m jobs.dbt.sources` / `python -m jobs.dbt.seeds` regenerate the dbt
sources, staging docs and seeds from schemas/ and regulake/reference/.
Themes and the analyst's query: docs/THEMES.md.
"""

from jobs.dbt.job import DbtBuildFailed, build_themes, dbt_build

__all__ = ["DbtBuildFailed", "build_themes", "dbt_build"]
