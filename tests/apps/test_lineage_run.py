"""Lineage of the shared pipeline run (`pipeline_lake`: one `regulake run` of the real DAG): the OpenLineage
events Airflow's provider, the stages, dbt and the Spark listener wrote under `<lake>/_lineage/`, and the
report's lineage view built from them. Files only: no Spark here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from regulake import lineage
from regulake.config import load_settings
from regulake.feeds import load_all_feeds

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lake(pipeline_lake) -> Path:
    return pipeline_lake


@pytest.fixture(scope="module")
def settings(lake):
    return load_settings(lake_root=lake, environ={})


def events_of(lake: Path, pattern: str) -> list[dict]:
    return [json.loads(line) for path in sorted((lake / "_lineage").glob(pattern))
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def built(lake, settings) -> dict[str, dict]:
    """Every table's build, from the stage and dbt events the run emitted (not from the report's tables.json)."""
    return lineage.builds(settings, events_of(lake, "runs/*/stages.jsonl") + events_of(lake, "runs/*/dbt.jsonl"))


def test_the_risk_classes_are_followed_back_through_dbt_promotion_and_landing_to_delivery_folders(
        built, pipeline_landing):
    risk = built["gold.enterprise_risk_class"]
    assert risk["job"] == "risk" and risk["airflow_task"] == "regulake_main.risk_classes"
    assert "gold.fct_penalty" in risk["inputs"]
    penalty = built["gold.fct_penalty"]
    assert penalty["airflow_task"] == "regulake_main.dbt_build"  # a dbt model's event (openlineage-dbt)
    assert "silver.samr_penalty" in lineage.upstream(built, "gold.fct_penalty")
    assert built["silver.samr_penalty"]["job"] == "promotion.samr_penalty"
    assert built["silver.samr_penalty"]["inputs"][-1] == "bronze.samr_penalty"
    folders = built["bronze.samr_penalty"]["locations"]
    assert folders and all(f.startswith(f"file:{pipeline_landing}/samr_penalty/") for f in folders)


def test_the_risk_classes_come_from_the_feeds_of_every_mart_the_model_reads(built):
    feeds = lineage.source_feeds(built, "gold.enterprise_risk_class", load_all_feeds())
    # The marts the risk model scores (conf/risk.yaml) and the register every enterprise is linked to.
    assert {"samr_enterprise", "samr_inspection", "samr_penalty", "tax_credit", "court_dishonest",
            "env_penalty", "hrss_social_insurance"} <= set(feeds)
    # A seed-only dimension comes from no feed.
    assert lineage.source_feeds(built, "gold.dim_region", load_all_feeds()) == []


def test_stage_and_dbt_runs_are_children_of_the_airflow_tasks_the_provider_reported(lake):
    airflow = events_of(lake, "airflow/*.jsonl")
    task_runs = {e["run"]["runId"]: e["job"]["name"] for e in airflow if e["eventType"] == "COMPLETE"}
    assert "regulake_main.risk_classes" in task_runs.values()
    for event in events_of(lake, "runs/*/stages.jsonl") + events_of(lake, "runs/*/dbt.jsonl"):
        parent = event["run"]["facets"]["parent"]
        assert task_runs.get(parent["run"]["runId"]) == parent["job"]["name"], event["job"]["name"]


def test_the_spark_listener_saw_the_risk_classes_written(lake, settings):
    spark_events = events_of(lake, "spark/*.jsonl")
    written = {lineage.table_of(settings, d["namespace"], d["name"], d.get("facets"))
               for e in spark_events for d in e.get("outputs") or []}
    assert {"gold.enterprise_risk_class", "silver.samr_penalty", "bronze.samr_penalty"} <= written
    assert all(e["producer"].startswith("https://github.com/OpenLineage/OpenLineage") for e in spark_events)


def test_the_public_views_carry_column_lineage_from_dbt(built):
    traced = {view: build["columns"] for view, build in built.items() if view.startswith("public.") and build["columns"]}
    assert traced, "no public view carries column lineage"
    assert any(source.startswith("gold.") for columns in traced.values() for sources in columns.values()
               for source in sources)


def test_the_report_shows_the_lineage_view_with_each_gold_tables_feeds(lake):
    report = (lake / "_reports" / "regulake_report.html").read_text(encoding="utf-8")
    assert "Lineage (数据血缘)" in report
    row = report[report.index("<td>gold.enterprise_risk_class</td>"):]
    row = row[:row.index("</tr>")]
    assert "samr_penalty" in row and "tax_credit" in row and "risk" in row
    tables = json.loads((lake / "_lineage" / "tables.json").read_text(encoding="utf-8"))
    assert all(table in tables for table in ("gold.enterprise_risk_class", "gold.inspection_plan",
                                             "gold.efficacy_scorecard"))
