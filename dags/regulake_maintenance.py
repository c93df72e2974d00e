"""Weekly Delta table maintenance of the lake: `jobs/maintenance/job.py:run`, one task per layer.

For every Delta table of the layers in `maintenance.layers` (bronze, silver, gold, audit; views are
not tables and are left alone), one layer at a time:

1. **retention properties**: `delta.deletedFileRetentionDuration` and `delta.logRetentionDuration`
   set to `maintenance.vacuum_retain_hours` / `log_retention_hours` (720 h = 30 days: time travel
   to any version of the audit window keeps working), plus `maintenance.table_properties`
   (`delta.autoOptimize.optimizeWrite`); a longer retention already on a table is kept;
2. **OPTIMIZE**: bin-packing compaction, `ZORDER BY` only for the tables under `maintenance.zorder`;
3. **statistics**: Delta's per-file statistics recomputed when some files were written without
   them (`ANALYZE TABLE` does not work on Delta tables in Spark 4.1 + Delta 4.4);
4. **VACUUM** at the table's `delta.deletedFileRetentionDuration` (what Delta 4.4's VACUUM goes by),
   run only once that holds at least `vacuum_retain_hours`; Delta's retention check stays on.

Params: `lake` (lake root, default from conf/regulake.yaml) and `dry_run` (true: change nothing,
list what VACUUM would delete and which properties would be set, in the task logs and XCom).

**Beside `regulake_main`.** Its `max_active_runs` and asset do not keep this DAG from running at
the same time, and need not:

* every change here is a Delta commit under optimistic concurrency. Appends never conflict with
  OPTIMIZE; otherwise one of two conflicting commits fails whole, nothing of it applied. Here a
  conflict is retried (`maintenance.conflict_retries`) and then that step is skipped for that table
  with a warning until next week, never failing the run; in `regulake_main` the failed task is
  retried by Airflow and its stages are idempotent. No rows are ever lost or duplicated:
  OPTIMIZE and the statistics step commit `dataChange=false` rewrites of the same rows.
* VACUUM deletes only files unreferenced for longer than the retention (720 h) — far longer than
  any run (minutes; hours at province scale) — so no file of an unfinished write, nor of a
  snapshot a running reader or task still uses, is ever that old.
* Compaction gives a table a new version, so the stages that skip on unchanged input versions
  (linking, dbt, risk) rebuild once afterwards, with the same rows. VACUUM adds no versions, and a
  week without new data commits nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Param, dag, get_current_context, task

from regulake.config import load_settings

_settings = load_settings()
LAYERS = list(_settings.config.maintenance.layers)


@dag(
    dag_id="regulake_maintenance",
    description="Weekly Delta maintenance: retention properties, OPTIMIZE, file statistics, VACUUM.",
    schedule="@weekly",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["regulake", "maintenance"],
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5), "owner": "regulake"},
    params={
        "lake": Param(_settings.lake_root, type="string", description="Lake root (local path or s3a://)"),
        "dry_run": Param(False, type="boolean",
                         description="Change nothing: list what VACUUM would delete and the properties it would set"),
    },
    doc_md=__doc__,
)
def regulake_maintenance():
    # One layer at a time: each task is its own Spark driver, and the daily DAG may be running.
    @task(map_index_template="{{ layer }}", max_active_tis_per_dagrun=1)
    def maintain_layer(layer: str) -> dict:
        from jobs.maintenance import job as maintenance
        from regulake.stage import StageContext, local_date

        airflow = get_current_context()
        airflow["layer"] = layer
        params = airflow["params"]
        settings = load_settings(lake_root=params["lake"])
        ctx = StageContext(settings=settings, run_id=airflow["run_id"],
                           as_of=local_date(airflow["dag_run"].run_after, settings))
        return maintenance.run(ctx, layers=[layer], dry_run=bool(params["dry_run"]))

    maintain_layer.expand(layer=LAYERS)


regulake_maintenance_dag = regulake_maintenance()
