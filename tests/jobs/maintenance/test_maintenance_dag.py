"""The maintenance DAG: weekly, its params, one retried task per layer."""

from __future__ import annotations

import pytest

from apps.airflow_env import DAGS_FOLDER

DAG_FILE = DAGS_FOLDER / "regulake_maintenance.py"


@pytest.fixture(scope="module")
def dag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAG_FILE))
    assert bag.import_errors == {}
    return bag.dags["regulake_maintenance"]


def test_weekly_with_lake_and_dry_run_params(dag):
    from regulake.config import load_settings

    assert dag.schedule == "@weekly" or str(dag.timetable.summary) == "@weekly"
    assert dag.catchup is False and dag.max_active_runs == 1
    assert set(dag.params.keys()) == {"lake", "dry_run"}
    assert dag.params["lake"] == load_settings().lake_root
    assert dag.params["dry_run"] is False
    assert "maintenance" in dag.tags and dag.doc_md


def test_one_retried_task_per_layer(dag):
    task = dag.get_task("maintain_layer")
    assert task.retries >= 1
    assert task.max_active_tis_per_dagrun == 1
    source = DAG_FILE.read_text(encoding="utf-8")
    assert "from jobs.maintenance import job" in source and "maintenance.run(ctx" in source

