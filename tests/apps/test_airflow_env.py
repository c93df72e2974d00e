"""Airflow settings: the project's defaults, every one overridable from the environment."""

from __future__ import annotations

import configparser

from apps.airflow_env import CFG_MARKER, DAGS_FOLDER, airflow_environ, write_airflow_cfg
from regulake.config import load_settings


def _settings(tmp_path):
    return load_settings().with_overrides(airflow={"home": str(tmp_path / "airflow")})


def test_defaults_are_the_embedded_ones(tmp_path):
    env = airflow_environ(_settings(tmp_path), environ={})
    assert env["AIRFLOW_HOME"] == str(tmp_path / "airflow")
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == f"sqlite:///{tmp_path / 'airflow' / 'airflow.db'}"
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == str(DAGS_FOLDER)
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    assert env["AIRFLOW__API__HOST"] == "127.0.0.1"


def test_a_users_database_and_executor_win(tmp_path):
    mine = {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql+psycopg2://airflow:x@db:5432/airflow",
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor"}
    env = airflow_environ(_settings(tmp_path), environ=mine)
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == mine["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"


def test_airflow_cfg_alone_points_at_the_projects_dags_and_no_examples(tmp_path):
    home = tmp_path / "airflow"
    home.mkdir()
    env = airflow_environ(_settings(tmp_path), environ={})
    path = write_airflow_cfg(home, env)
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(path)
    assert cfg["core"]["dags_folder"] == str(DAGS_FOLDER)
    assert cfg["core"]["load_examples"] == "False"
    assert cfg["database"]["sql_alchemy_conn"] == env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]


def test_a_users_own_airflow_cfg_is_left_alone(tmp_path):
    home = tmp_path / "airflow"
    home.mkdir()
    (home / "airflow.cfg").write_text("[core]\ndags_folder = /mine\n")
    assert write_airflow_cfg(home, airflow_environ(_settings(tmp_path), environ={})) is None
    assert (home / "airflow.cfg").read_text() == "[core]\ndags_folder = /mine\n"
    (home / "airflow.cfg").write_text(CFG_MARKER + "\n[core]\ndags_folder = /old\n")  # ours: rewritten
    assert write_airflow_cfg(home, airflow_environ(_settings(tmp_path), environ={})) is not None
