"""The main regulake DAG: land → gate/silver → link → dbt → risk/plan/scorecards → publish.

Parsed often by the DAG processor, so nothing heavy happens at import: Spark,
the jobs and their libraries are imported inside the tasks.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Asset, Param, dag, get_current_context, task

from regulake.pipeline import GOLD_ASSET_URI, default_params

GOLD = Asset(GOLD_ASSET_URI)
_defaults = default_params()


@dag(
    dag_id="regulake_main",
    description="Land department deliveries, gate them into silver, link, build gold, classify risk.",
    schedule="@daily",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["regulake"],
    default_args={"retries": 2, "retry_delay": timedelta(seconds=30), "owner": "regulake"},
    params={
        "landing": Param(_defaults["landing"], type="string", description="Landing root (local path or s3a://)"),
        "lake": Param(_defaults["lake"], type="string", description="Lake root (local path or s3a://)"),
        "as_of": Param(
            None, type=["null", "string"], format="date", description="As-of date (YYYY-MM-DD); default: today"
        ),
    },
    doc_md=__doc__,
)
def regulake_main():
    @task
    def discover_feeds() -> list[str]:
        from regulake.pipeline import discover_feeds as discover

        return discover(get_current_context()["params"])

    @task(map_index_template="{{ feed_id }}")
    def land_feed(feed_id: str) -> str:
        from regulake.pipeline import land_feed as land

        context = get_current_context()
        context["feed_id"] = feed_id
        land(context["params"], feed_id, context["run_id"])
        return feed_id

    @task(map_index_template="{{ feed_id }}")
    def promote_feed(feed_id: str) -> str:
        from regulake.pipeline import promote_feed as promote

        context = get_current_context()
        context["feed_id"] = feed_id
        promote(context["params"], feed_id, context["run_id"])
        return feed_id

    # all_done: a delivery held back by the quality gate fails its feed's task, but the
    # other feeds go on to gold; any other failure stops the run here (check_promoted).
    @task(trigger_rule="all_done")
    def link_entities(promoted: list[str], feeds: list[str]) -> None:
        from regulake.pipeline import check_promoted, run_stage

        context = get_current_context()
        check_promoted(context["params"], feeds, list(promoted))
        run_stage("link_entities", context["params"], context["run_id"])

    @task
    def dbt_build() -> None:
        from regulake.pipeline import run_stage

        context = get_current_context()
        run_stage("dbt_build", context["params"], context["run_id"])

    @task
    def risk_classes() -> None:
        from regulake.pipeline import run_stage

        context = get_current_context()
        run_stage("risk_classes", context["params"], context["run_id"])

    @task
    def inspection_plan() -> None:
        from regulake.pipeline import run_stage

        context = get_current_context()
        run_stage("inspection_plan", context["params"], context["run_id"])

    @task
    def scorecards() -> None:
        from regulake.pipeline import run_stage

        context = get_current_context()
        run_stage("scorecards", context["params"], context["run_id"])

    @task(outlets=[GOLD])
    def publish() -> None:
        from regulake.pipeline import publish as publish_outputs

        context = get_current_context()
        publish_outputs(context["params"], context["run_id"])

    feeds = discover_feeds()
    landed = land_feed.expand(feed_id=feeds)
    promoted = promote_feed.expand(feed_id=landed)
    linked = link_entities(promoted, feeds)
    built = dbt_build()
    risk = risk_classes()
    plan = inspection_plan()
    cards = scorecards()
    linked >> built >> risk >> plan >> cards >> publish()


regulake_main_dag = regulake_main()
