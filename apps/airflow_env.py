"""Airflow for regulake: the project's DAGs, and defaults the user can override.

The embedded default is Airflow's own SQLite DB under AIRFLOW_HOME with the
LocalExecutor. Every setting below is a default only: an `AIRFLOW__...`
variable already in the environment wins, so a production Airflow (PostgreSQL
metadata DB, LocalExecutor or CeleryExecutor) is pointed at by environment
variables alone (README: "Run on a cluster").

The same defaults are written to `<AIRFLOW_HOME>/airflow.cfg`, so a bare
`AIRFLOW_HOME=.airflow airflow dags trigger ...` sees the project's DAG folder
and no example DAGs, exactly like `regulake run` and `regulake airflow` do.
"""

from __future__ import annotations

import configparser
import hashlib
import os
import subprocess
import sys
from pathlib import Path

from regulake.config import PROJECT_ROOT, Settings

DAG_ID = "regulake_main"
DAGS_FOLDER = PROJECT_ROOT / "dags"
# The first line of an airflow.cfg regulake wrote (and may rewrite); any other file is the user's.
CFG_MARKER = "# written by regulake (apps/airflow_env.py); delete this line to keep your own edits"


def airflow_defaults(home: Path) -> dict[tuple[str, str], str]:
    """(section, key) -> value: what regulake needs from Airflow unless the user says otherwise."""
    return {
        ("core", "dags_folder"): str(DAGS_FOLDER),
        ("core", "load_examples"): "False",
        ("core", "executor"): "LocalExecutor",
        ("core", "parallelism"): "2",
        ("database", "sql_alchemy_conn"): f"sqlite:///{home / 'airflow.db'}",
        # The API server (UI) listens on loopback unless told otherwise, and requires a login:
        # Airflow's simple auth manager, one admin whose password Airflow generates into
        # <AIRFLOW_HOME>/simple_auth_manager_passwords.json.generated; nobody is an admin unasked.
        ("api", "host"): "127.0.0.1",
        ("core", "auth_manager"): "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        ("core", "simple_auth_manager_users"): "admin:admin",
        ("core", "simple_auth_manager_all_admins"): "False",
        ("logging", "logging_level"): "INFO",
    }


def _env_key(section: str, key: str) -> str:
    return f"AIRFLOW__{section.upper()}__{key.upper()}"


def airflow_environ(settings: Settings, environ: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for Airflow: AIRFLOW_HOME from the settings, every other value a default."""
    environ = dict(os.environ if environ is None else environ)
    home = settings.airflow_home
    env = {"AIRFLOW_HOME": str(home)}
    for (section, key), value in airflow_defaults(home).items():
        name = _env_key(section, key)
        env[name] = environ.get(name, value)
    # Airflow's OpenLineage provider writes into the lake of each run (regulake.lineage.airflow_environ).
    from regulake.lineage import airflow_environ as lineage_environ

    for name, value in lineage_environ(settings).items():
        env[name] = environ.get(name, value)
    # Tasks import the project's packages from the checkout (dags/, jobs/, apps/).
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), environ.get("PYTHONPATH")]))
    return env


def write_airflow_cfg(home: Path, env: dict[str, str]) -> Path | None:
    """`<home>/airflow.cfg` with the effective values, unless the file is the user's own (no marker)."""
    path = home / "airflow.cfg"
    if path.is_file() and not path.read_text(encoding="utf-8").startswith(CFG_MARKER):
        return None
    cfg = configparser.ConfigParser(interpolation=None)
    keys = [*airflow_defaults(home), *(tuple(name.lower().split("__")[1:3]) for name in env
                                       if name.startswith("AIRFLOW__OPENLINEAGE__"))]
    for section, key in keys:
        if not cfg.has_section(section):
            cfg.add_section(section)
        cfg.set(section, key, env[_env_key(section, key)])
    with path.open("w", encoding="utf-8") as handle:
        handle.write(CFG_MARKER + "\n")
        cfg.write(handle)
    return path


def prepare_airflow(settings: Settings) -> dict[str, str]:
    """Export the environment, write airflow.cfg, create/upgrade the metadata DB once per Airflow version and DB."""
    env = airflow_environ(settings)
    os.environ.update(env)
    home = Path(env["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    write_airflow_cfg(home, env)
    from importlib.metadata import version

    stamp = home / ".db-migrated"
    # The DB URL may carry a password: the stamp keeps only its hash.
    database = hashlib.sha256(env[_env_key("database", "sql_alchemy_conn")].encode()).hexdigest()[:16]
    wanted = f"{version('apache-airflow-core')} {database}"
    if not stamp.is_file() or stamp.read_text().strip() != wanted:
        airflow = Path(sys.executable).with_name("airflow")
        subprocess.run([str(airflow), "db", "migrate"], check=True, env=os.environ.copy(),
                       stdout=subprocess.DEVNULL)
        stamp.write_text(wanted)
    return env


def load_main_dag():
    """The main DAG object, imported from dags/ exactly as the DAG processor would."""
    return load_dag("regulake_main")


def load_dag(dag_id: str):
    """The DAG object of dags/<dag_id>.py (its `<dag_id>_dag`), imported as the DAG processor would."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"{dag_id}_dag_module", DAGS_FOLDER / f"{dag_id}.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return getattr(module, f"{dag_id}_dag")
