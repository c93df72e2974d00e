"""Airflow on the embedded default: its own SQLite DB under AIRFLOW_HOME, the project's DAGs.

The CLI sets these variables before Airflow is imported, so `regulake run`,
`regulake airflow` and the tests all see the same Airflow.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from regulake.config import PROJECT_ROOT, Settings

DAG_ID = "regulake_main"
DAGS_FOLDER = PROJECT_ROOT / "dags"


def airflow_environ(settings: Settings) -> dict[str, str]:
    home = settings.airflow_home
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "2",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": os.environ.get("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO"),
        # Tasks import the project's package from the repo checkout.
        "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
    }


def prepare_airflow(settings: Settings) -> dict[str, str]:
    """Export the environment and create/upgrade Airflow's metadata DB once per Airflow version."""
    env = airflow_environ(settings)
    os.environ.update(env)
    home = Path(env["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    from importlib.metadata import version

    stamp = home / ".db-migrated"
    wanted = version("apache-airflow-core")
    if not stamp.is_file() or stamp.read_text().strip() != wanted:
        airflow = Path(sys.executable).with_name("airflow")
        subprocess.run([str(airflow), "db", "migrate"], check=True, env=os.environ.copy(),
                       stdout=subprocess.DEVNULL)
        stamp.write_text(wanted)
    return env


def load_main_dag():
    """The main DAG object, imported from dags/ exactly as the DAG processor would."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("regulake_main_dag_module", DAGS_FOLDER / "regulake_main.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module.regulake_main_dag
