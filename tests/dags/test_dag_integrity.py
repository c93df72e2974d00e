"""The DAG folder imports cleanly, fast, without side effects, and follows the house rules."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from apps.airflow_env import DAGS_FOLDER

STAGES = ["discover_feeds", "land_feed", "promote_feed", "link_entities", "dbt_build",
          "risk_classes", "inspection_plan", "scorecards", "publish"]


@pytest.fixture(scope="module")
def dag_bag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_FOLDER))


def test_no_import_errors(dag_bag):
    assert dag_bag.import_errors == {}
    assert "regulake_main" in dag_bag.dags


def test_every_dag_has_tags_and_retries(dag_bag):
    for dag_id, dag in dag_bag.dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        for task in dag.tasks:
            assert task.retries >= 1, f"{dag_id}.{task.task_id} has no retries"


def test_main_dag_runs_the_stages_in_order(dag_bag):
    dag = dag_bag.dags["regulake_main"]
    assert set(STAGES) <= set(dag.task_ids)
    for upstream, downstream in zip(STAGES, STAGES[1:], strict=False):
        assert downstream in dag.get_task(upstream).downstream_task_ids, f"{upstream} >> {downstream}"
    assert set(dag.params.keys()) >= {"landing", "lake", "as_of"}
    assert dag.timetable.timetable.expression == "0 0 * * *"  # daily, or when deliveries land (test_landing_trigger)


def test_the_run_lease_is_taken_first_and_released_by_a_teardown(dag_bag):
    dag = dag_bag.dags["regulake_main"]
    release = dag.get_task("release_lease")
    assert release.is_teardown and "publish" in release.upstream_task_ids
    assert dag.get_task("discover_feeds").upstream_task_ids == set()


def test_a_run_finding_another_runs_lease_fails_naming_it(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from airflow.sdk.exceptions import AirflowFailException

    from regulake.config import load_settings
    from regulake.lease import Lease

    sys.path.insert(0, str(DAGS_FOLDER))
    import regulake_main

    Lease.for_settings(load_settings(lake_root=tmp_path)).acquire("scheduled__2024-03-31T00:00:00+00:00")
    context = {"params": {"lake": str(tmp_path)}, "run_id": "manual__person", "dag_run": SimpleNamespace()}
    monkeypatch.setattr(regulake_main, "get_current_context", lambda: context)
    with pytest.raises(AirflowFailException, match=r"leased by run 'scheduled__2024-03-31T00:00:00\+00:00'"):
        regulake_main.hold_lease()
    context["run_id"] = "scheduled__2024-03-31T00:00:00+00:00"  # the holder's own tasks renew it
    assert regulake_main.hold_lease().lake_root == str(tmp_path)


def test_a_run_whose_landing_root_is_missing_fails_at_discovery_naming_it(tmp_path, monkeypatch):
    from airflow.sdk.exceptions import AirflowFailException

    sys.path.insert(0, str(DAGS_FOLDER))
    import regulake_main

    missing = tmp_path / "landing"
    context = {"params": {"lake": str(tmp_path / "lake"), "landing": str(missing)}, "run_id": "scheduled__1"}
    monkeypatch.setattr(regulake_main, "get_current_context", lambda: context)
    discover = regulake_main.regulake_main_dag.get_task("discover_feeds").python_callable
    with pytest.raises(AirflowFailException, match=f"landing root {missing} does not exist"):
        discover()


def test_importing_the_dag_is_fast_and_starts_no_spark():
    probe = (
        # Airflow itself is already imported in the DAG processor: time only the DAG file.
        "import sys, time, runpy; import airflow.sdk; t = time.perf_counter();"
        f"runpy.run_path({str(DAGS_FOLDER / 'regulake_main.py')!r});"
        "import json; print(json.dumps({'seconds': time.perf_counter() - t,"
        "'heavy': sorted(m for m in ('pyspark', 'delta', 'great_expectations', 'dbt', 'pandas')"
        " if m in sys.modules)}))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["heavy"] == [], f"the DAG file imports {report['heavy']} at parse time"
    assert report["seconds"] < 5


def test_every_stage_task_calls_its_job_directly():
    """No lookup by name: each task's source imports `jobs.<stage>.job` (or its module) and calls `.run(`."""
    import ast
    import re

    source = (DAGS_FOLDER / "regulake_main.py").read_text(encoding="utf-8")
    tasks = {node.name: ast.get_source_segment(source, node) for node in ast.walk(ast.parse(source))
             if isinstance(node, ast.FunctionDef) and any(
                 "task" in ast.get_source_segment(source, d) for d in node.decorator_list)}
    stage_tasks = {name: body for name, body in tasks.items() if name not in ("discover_feeds", "release_lease")}
    assert set(stage_tasks) == set(STAGES) - {"discover_feeds"}
    for name, body in stage_tasks.items():
        assert "from jobs." in body and re.search(r"\w+\.run\((stage_context\(|ctx\))", body), \
            f"task {name} does not call its job's run"
    assert "importlib" not in source and "getattr(" not in source


def test_only_scheduled_and_backfill_runs_take_their_as_of_from_the_data_interval():
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from airflow.sdk.api.datamodels._generated import DagRunType

    sys.path.insert(0, str(DAGS_FOLDER))
    from regulake_main import _interval_run

    end = datetime(2026, 12, 5, tzinfo=UTC)
    assert _interval_run(SimpleNamespace(run_type=DagRunType.SCHEDULED, data_interval_end=end))
    assert _interval_run(SimpleNamespace(run_type=DagRunType.BACKFILL, data_interval_end=end))
    assert not _interval_run(SimpleNamespace(run_type=DagRunType.MANUAL, data_interval_end=end))
    assert not _interval_run(SimpleNamespace(run_type=DagRunType.ASSET_TRIGGERED, data_interval_end=end))
    assert not _interval_run(SimpleNamespace(run_type=DagRunType.SCHEDULED, data_interval_end=None))
