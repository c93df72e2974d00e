"""What each task of the main DAG does: thin glue from DAG params to the jobs.

Kept out of the DAG file so the DAG stays cheap to parse, and so every entry
point (scheduler, `regulake run`, `dag.test()` in the suite) runs exactly the
same code. Heavy imports happen inside the functions.
"""

from __future__ import annotations

import importlib
import logging
from datetime import date, datetime
from typing import Any

from regulake.config import Settings, load_settings

log = logging.getLogger("regulake.pipeline")

GOLD_ASSET_URI = "regulake://gold"

# Stage -> (module, function, issue that builds it). A stage whose module is
# not in the tree yet is skipped with a warning naming its issue.
STAGES: dict[str, tuple[str, str, int]] = {
    "link_entities": ("jobs.linking", "link_entities", 5),
    "dbt_build": ("jobs.dbt", "build_themes", 6),
    "risk_classes": ("jobs.risk", "classify_enterprises", 7),
    "inspection_plan": ("jobs.risk", "draw_inspection_plan", 7),
    "scorecards": ("jobs.scorecards", "build_scorecards", 8),
    "publish": ("jobs.publish", "publish", 8),
}


def default_params() -> dict[str, Any]:
    settings = load_settings()
    return {
        "landing": str(settings.section("pipeline").get("landing_root", "landing")),
        "lake": settings.lake_root,
        "as_of": None,
    }


def settings_for(params: dict[str, Any]) -> Settings:
    return load_settings(lake_root=params["lake"])


def as_of_date(params: dict[str, Any]) -> date:
    value = params.get("as_of")
    return datetime.strptime(value, "%Y-%m-%d").date() if value else date.today()


def _spark(settings: Settings):
    from regulake.spark import get_spark

    return get_spark(settings)


def discover_feeds(params: dict[str, Any]) -> list[str]:
    from jobs.landing import discover

    feeds = discover(params["landing"])
    log.info("%d feeds with deliveries under %s: %s", len(feeds), params["landing"], ", ".join(feeds))
    return feeds


def land_feed(params: dict[str, Any], feed_id: str, run_id: str) -> dict:
    from jobs.landing import land_feed as land

    settings = settings_for(params)
    return land(_spark(settings), settings, params["landing"], feed_id, run_id)


def promote_feed(params: dict[str, Any], feed_id: str, run_id: str) -> dict:
    from airflow.sdk.exceptions import AirflowFailException

    try:
        return _call("jobs.silver", "promote_feed", 4, params, feed_id, run_id)
    except Exception as error:
        from jobs.silver import GateFailed

        if isinstance(error, GateFailed):
            # A held-back delivery is a data verdict: retrying cannot change it.
            raise AirflowFailException(str(error)) from error
        raise


def check_promoted(params: dict[str, Any], feeds: list[str], promoted: list[str]) -> None:
    """Go on past feeds whose deliveries the gate held back; stop on any other failure."""
    from airflow.sdk.exceptions import AirflowFailException

    failed = sorted(set(feeds) - set(promoted))
    if not failed:
        return
    from jobs.silver import held_deliveries

    settings = settings_for(params)
    held = {feed for feed, _ in held_deliveries(_spark(settings), settings)}
    crashed = [feed for feed in failed if feed not in held]
    if crashed:
        raise AirflowFailException(f"landing or promotion failed for {', '.join(crashed)} (see those tasks' logs); "
                                   "nothing downstream runs until they succeed")
    log.warning("deliveries of %s are held back by the quality gate: gold is built without them", ", ".join(failed))


def run_stage(stage: str, params: dict[str, Any], run_id: str) -> Any:
    module, function, issue = STAGES[stage]
    if stage in {"dbt_build", "risk_classes", "inspection_plan", "scorecards", "publish"}:
        return _call(module, function, issue, params, run_id, as_of_date(params))
    return _call(module, function, issue, params, run_id)


def _call(module_name: str, function: str, issue: int, params: dict[str, Any], *args: Any) -> Any:
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as missing:
        if missing.name and module_name.startswith(missing.name):
            log.warning("stage %s.%s is not built yet (issue %d): skipped", module_name, function, issue)
            return None
        raise
    settings = settings_for(params)
    return getattr(module, function)(_spark(settings), settings, *args)


def record_run(params: dict[str, Any], run_id: str, state: str) -> None:
    """Append this run to audit.pipeline_run (what `regulake status` shows as the last run)."""
    from pyspark.sql import functions as F

    from regulake.catalog import register_table

    settings = settings_for(params)
    spark = _spark(settings)
    row = spark.createDataFrame(
        [(run_id, state, params["landing"], params.get("as_of"))],
        "run_id string, state string, landing string, as_of string",
    ).withColumn("finished_at", F.current_timestamp())
    path = settings.table_path("audit", "pipeline_run")
    # MERGE on run_id: a retried publish task does not add a second row.
    if spark.catalog.tableExists("audit.pipeline_run"):
        from delta.tables import DeltaTable

        (
            DeltaTable.forPath(spark, path).alias("t")
            .merge(row.alias("s"), "t.run_id = s.run_id")
            .whenMatchedUpdateAll().whenNotMatchedInsertAll().execute()
        )
    else:
        row.write.format("delta").mode("append").save(path)
        register_table(spark, settings.lake_root, "audit", "pipeline_run")


def publish(params: dict[str, Any], run_id: str) -> None:
    """Publish, record the run, then fail it if the gate still holds deliveries back (after publishing the rest)."""
    from airflow.sdk.exceptions import AirflowFailException

    from jobs.silver import held_deliveries

    run_stage("publish", params, run_id)
    settings = settings_for(params)
    held = held_deliveries(_spark(settings), settings)
    record_run(params, run_id, "held_back" if held else "success")
    if held:
        names = ", ".join(f"{feed}/{batch}" for feed, batch in held)
        raise AirflowFailException(f"gold is published, but the quality gate holds back {len(held)} deliveries: "
                                   f"{names} (audit.gate_result and the promote_feed task logs say why)")
