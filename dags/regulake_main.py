"""The main regulake DAG: land → gate/silver → link → dbt → risk → inspection plan → scorecards → publish.

Every task builds one `StageContext` (lake settings, run id, the run's as-of date) and calls its
stage's `jobs/<stage>/job.py:run`. One run writes the lake at a time: the first task takes the lake's
run lease (regulake/lease.py), every task renews it, a teardown task releases it. Parsed often by the
DAG processor, so nothing heavy happens at import: Spark, the jobs and their libraries are imported
inside the tasks.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from airflow.sdk import (
    Asset,
    AssetOrTimeSchedule,
    CronTriggerTimetable,
    Param,
    dag,
    get_current_context,
    task,
)
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from regulake.config import load_settings
from regulake.landing_trigger import landing_asset

log = logging.getLogger(__name__)
GOLD = Asset("regulake://gold")
_settings = load_settings()


def _schedule(pipeline: dict):
    """The daily schedule (`pipeline.schedule`, a cron or preset in UTC; null: none) OR a new delivery
    under the landing root: the asset `regulake://landing`, whose watcher (regulake/landing_trigger.py)
    runs in Airflow's triggerer. An asset-triggered run is like a manual one: its as-of date is the
    latest batch date of the deliveries (`_interval_run` is False for it)."""
    landing = landing_asset(str(pipeline.get("landing_root", "landing")))
    cron = pipeline.get("schedule")
    return landing if cron is None else AssetOrTimeSchedule(timetable=CronTriggerTimetable(cron, timezone="UTC"),
                                                            assets=landing)


def _interval_run(dag_run) -> bool:
    """A scheduled or backfill run: it covers a data interval (a manual or asset-triggered run does not)."""
    return dag_run.run_type in ("scheduled", "backfill") and dag_run.data_interval_end is not None  # a str enum


def hold_lease():
    """Take or renew the lake's run lease for this DAG run (re-entrant: every task, retries too); another
    run's lease fails the task at once, naming that run: retrying would only wait for it blindly."""
    from regulake import lease

    airflow = get_current_context()
    settings = load_settings(lake_root=airflow["params"]["lake"])
    try:
        lease.hold(settings, airflow["run_id"])
    except lease.LeaseHeld as held:
        raise AirflowFailException(str(held)) from held
    return settings


def stage_context(feed_id: str | None = None):
    """The context of the running task: params → settings, the run's id and its one as-of date."""
    from regulake.stage import StageContext, run_as_of

    settings = hold_lease()
    airflow = get_current_context()
    params, dag_run = airflow["params"], airflow["dag_run"]

    def latest_batch():
        from jobs.landing.job import latest_batch_date

        return latest_batch_date(params["landing"], settings)

    # Fixed per run, so a run across midnight uses one date (regulake.stage.run_as_of says which).
    as_of, why = run_as_of(
        params.get("as_of"), dag_run.run_after, settings,
        scheduled_interval_end=dag_run.data_interval_end if _interval_run(dag_run) else None,
        latest_batch=latest_batch,
    )
    log.info("as-of date %s: %s", as_of, why)
    return StageContext(
        settings=settings,
        run_id=airflow["run_id"],
        as_of=as_of,
        landing_root=params["landing"],
        feed_id=feed_id,
        label=airflow["ti"].task_id + (f"[{feed_id}]" if feed_id else ""),
    )


def stage_lineage(ctx, stage: str):
    """The stage's OpenLineage run: the tables it reads and writes, a child of this task's run (regulake.lineage)."""
    from regulake import lineage

    return lineage.stage_run(ctx, stage)


def source_connection(feed_id: str):
    """The Airflow connection of the feed's `source:` table (schemas/<feed>.yaml), from Airflow's connection
    store; None when the feed has no source, or its connection is not defined here (then it is not collected)."""
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    from regulake.feeds import load_feed

    source = load_feed(feed_id).source
    if source is None:
        return None
    try:
        return Connection.get(source.connection)
    except AirflowNotFoundException:
        log.info("%s: its source connection %r is not defined in Airflow: not collected", feed_id, source.connection)
        return None


def collected_feeds() -> list[str]:
    """Feeds with a `source:` table whose connection is defined: collected into the landing root each run."""
    from regulake.feeds import load_all_feeds

    return [feed_id for feed_id, schema in load_all_feeds().items()
            if schema.source is not None and source_connection(feed_id) is not None]


@dag(
    dag_id="regulake_main",
    description="Land department deliveries, gate them into silver, link, build gold, classify risk.",
    schedule=_schedule(_settings.section("pipeline")),
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["regulake"],
    default_args={"retries": 2, "retry_delay": timedelta(seconds=30), "owner": "regulake"},
    params={
        "landing": Param(str(_settings.section("pipeline").get("landing_root", "landing")), type="string",
                         description="Landing root (local path or s3a://)"),
        "lake": Param(_settings.lake_root, type="string", description="Lake root (local path or s3a://)"),
        "as_of": Param(
            None, type=["null", "string"], format="date",
            description="As-of date (YYYY-MM-DD); default: a scheduled run's data interval, else the latest "
                        "batch date of the deliveries",
        ),
        "rebuild": Param(False, type="boolean",
                         description="Build every stage after promotion even when no new delivery was promoted"),
    },
    doc_md=__doc__,
)
def regulake_main():
    @task
    def discover_feeds() -> list[str]:
        from jobs.landing.job import LandingRootMissing, discover
        from regulake import progress

        hold_lease()
        landing = get_current_context()["params"]["landing"]
        try:
            feeds = discover(landing)
        except LandingRootMissing as missing:
            raise AirflowFailException(str(missing)) from missing
        feeds += [feed for feed in collected_feeds() if feed not in feeds]  # no folder yet: collected first
        progress.stage_done("discover", {"feeds": feeds, "landing": landing})
        return feeds

    @task(map_index_template="{{ feed_id }}")
    def land_feed(feed_id: str) -> str:
        from jobs.landing import job as landing
        from regulake import progress

        get_current_context()["feed_id"] = feed_id
        ctx = stage_context(feed_id)
        collected = None
        with stage_lineage(ctx, "landing"):
            if (connection := source_connection(feed_id)) is not None:
                from jobs.collect import job as collect

                collected = collect.run(ctx, collect.JdbcConnection.from_airflow(connection))
            summary = landing.run(ctx)
        progress.stage_done("landing", summary | ({"collected": collected} if collected else {}), feed_id)
        return feed_id

    @task(map_index_template="{{ feed_id }}")
    def promote_feed(feed_id: str) -> str:
        from jobs.silver import job as silver
        from jobs.silver.gate import GateFailed
        from regulake import progress

        get_current_context()["feed_id"] = feed_id
        ctx = stage_context(feed_id)
        try:
            with stage_lineage(ctx, "promotion"):
                progress.stage_done("promotion", silver.run(ctx), feed_id)
        except GateFailed as held:
            # A held-back delivery is a data verdict: retrying cannot change it.
            raise AirflowFailException(str(held)) from held
        return feed_id

    # all_done: a delivery held back by the quality gate fails its feed's task, but the other
    # feeds go on to gold; any other landing or promotion failure stops the run here.
    @task(trigger_rule="all_done")
    def link_entities(promoted: list[str], feeds: list[str]) -> None:
        from jobs.linking import job as linking
        from jobs.silver.job import held_deliveries
        from regulake import progress
        from regulake.stage_state import nothing_to_build

        ctx = stage_context()
        # One slice request: iterating the lazy sequence asks past its end, which the SDK logs as an error.
        failed = sorted(set(feeds) - set(promoted[:]))
        if failed:
            held = {feed for feed, _ in held_deliveries(ctx.spark, ctx.settings)}
            crashed = [feed for feed in failed if feed not in held]
            if crashed:
                raise AirflowFailException(f"landing or promotion failed for {', '.join(crashed)} (see those tasks' "
                                           "logs); nothing downstream runs until they succeed")
        params = get_current_context()["params"]
        if why := nothing_to_build(ctx.settings, ctx.as_of, as_of_asked=bool(params.get("as_of")),
                                   rebuild=bool(params.get("rebuild"))):
            # Skipped: the stages up to scorecards are skipped with it; publish still records the run.
            progress.stage_done("linking", {"skipped": why})
            raise AirflowSkipException(f"{why}: linking, dbt, risk, inspection and scorecards skipped")
        with stage_lineage(ctx, "linking"):
            progress.stage_done("linking", linking.run(ctx))

    @task
    def dbt_build() -> None:
        from jobs.dbt import job as dbt
        from regulake import progress

        ctx = stage_context()
        with stage_lineage(ctx, "dbt"):
            progress.stage_done("dbt", dbt.run(ctx))

    @task
    def risk_classes() -> None:
        from jobs.risk import job as risk
        from regulake import progress

        ctx = stage_context()
        with stage_lineage(ctx, "risk"):
            progress.stage_done("risk", risk.run(ctx))

    @task
    def inspection_plan() -> None:
        from jobs.inspection import job as inspection
        from regulake import progress

        ctx = stage_context()
        with stage_lineage(ctx, "inspection"):
            progress.stage_done("inspection", inspection.run(ctx))

    @task
    def scorecards() -> None:
        from jobs.scorecards import job as scorecards_job
        from regulake import progress

        ctx = stage_context()
        with stage_lineage(ctx, "scorecards"):
            progress.stage_done("scorecards", scorecards_job.run(ctx))

    # none_failed: a run with nothing new skips the stages before it, yet is recorded.
    @task(outlets=[GOLD], trigger_rule="none_failed")
    def publish() -> None:
        """Publish, then fail the run if the gate still holds deliveries back (after publishing the rest)."""
        from jobs.publish import job as publish_job
        from regulake import progress
        from regulake.stage_state import record_complete_run, silver_versions

        ctx = stage_context()
        if not silver_versions(ctx.settings):
            raise AirflowSkipException("nothing has been promoted to silver yet: nothing to publish")
        with stage_lineage(ctx, "publish"):
            summary = progress.stage_done("publish", publish_job.run(ctx))
        record_complete_run(ctx.settings, ctx.run_id, ctx.as_of)
        held = summary["held"]
        if held:
            names = ", ".join(f"{feed}/{batch}" for feed, batch in held)
            raise AirflowFailException(f"gold is published, but the quality gate holds back {len(held)} deliveries: "
                                       f"{names} (audit.gate_result and the promote_feed task logs say why)")

    # A teardown: it runs when the run fails too. Only the run's own lease is released.
    @task
    def release_lease() -> None:
        from regulake.catalog import remove_orphaned_commit_files
        from regulake.lease import Lease

        airflow = get_current_context()
        settings = load_settings(lake_root=airflow["params"]["lake"])
        remove_orphaned_commit_files(settings.lake_root)  # while the lease is still held: regulake.catalog says why
        Lease.for_settings(settings).release(airflow["run_id"])

    feeds = discover_feeds()
    landed = land_feed.expand(feed_id=feeds)
    promoted = promote_feed.expand(feed_id=landed)
    linked = link_entities(promoted, feeds)
    linked >> dbt_build() >> risk_classes() >> inspection_plan() >> scorecards() >> publish() >> release_lease().as_teardown()


regulake_main_dag = regulake_main()
