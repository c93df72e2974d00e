"""Outbound deliveries: national reporting and department subscriptions (jobs/export, docs/EXPORTS.md).

Runs after every run of the main DAG that publishes gold (data-aware: the `regulake://gold` asset
its publish task updates), and on demand (`regulake export`). Each subscription gets what changed in
gold since its last delivery. The export takes the lake's run lease like a main run, waiting for a
main run that holds it, since it records its deliveries in audit.export_log.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Asset, Param, dag, get_current_context, task

from regulake.config import load_settings

GOLD = Asset("regulake://gold")  # the main DAG's publish updates it
# How long an export waits for a main run to release the lake.
LEASE_WAIT_SECONDS = 3600
_settings = load_settings()


@dag(
    dag_id="regulake_export",
    description="Write outbound deliveries: national reporting and department subscriptions.",
    schedule=[GOLD],
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["regulake"],
    default_args={"retries": 2, "retry_delay": timedelta(seconds=30), "owner": "regulake"},
    params={
        "lake": Param(_settings.lake_root, type="string", description="Lake root (local path or s3a://)"),
        "batch_date": Param(None, type=["null", "string"], format="date",
                            description="Batch date of the deliveries (YYYY-MM-DD); default: today"),
    },
    doc_md=__doc__,
)
def regulake_export():
    @task
    def export() -> dict:
        from datetime import date

        from jobs.export import job
        from regulake import progress
        from regulake.lease import Lease, keep_alive
        from regulake.spark import get_spark
        from regulake.stage import local_date

        airflow = get_current_context()
        params, run_id = airflow["params"], airflow["run_id"]
        settings = load_settings(lake_root=params["lake"])
        lease = Lease(settings.lake_root, wait_seconds=LEASE_WAIT_SECONDS,
                      ttl_seconds=settings.section("pipeline").get("lease_ttl_seconds", 900))
        lease.acquire(run_id)
        keep_alive(lease, run_id)
        try:
            batch = date.fromisoformat(params["batch_date"]) if params.get("batch_date") else local_date(None, settings)
            return progress.stage_done("export", job.run(get_spark(settings), settings, run_id, batch))
        finally:
            lease.release(run_id)

    export()


regulake_export_dag = regulake_export()
