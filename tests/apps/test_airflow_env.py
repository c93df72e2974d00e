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
    # A bare `airflow` command reports lineage into the lake too (regulake.lineage.LakeTransport).
    assert cfg["openlineage"]["transport"] == env["AIRFLOW__OPENLINEAGE__TRANSPORT"]
    assert "LakeTransport" in cfg["openlineage"]["transport"]


def test_a_users_own_airflow_cfg_is_left_alone(tmp_path):
    home = tmp_path / "airflow"
    home.mkdir()
    (home / "airflow.cfg").write_text("[core]\ndags_folder = /mine\n")
    assert write_airflow_cfg(home, airflow_environ(_settings(tmp_path), environ={})) is None
    assert (home / "airflow.cfg").read_text() == "[core]\ndags_folder = /mine\n"
    (home / "airflow.cfg").write_text(CFG_MARKER + "\n[core]\ndags_folder = /old\n")  # ours: rewritten
    assert write_airflow_cfg(home, airflow_environ(_settings(tmp_path), environ={})) is not None


def test_the_airflow_api_listens_on_loopback_and_refuses_requests_without_a_login(tmp_path):
    """`regulake airflow`'s settings, with Airflow's real API server: no token, no DAGs; the admin's token works."""
    import json
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.error
    import urllib.request
    from pathlib import Path

    settings = _settings(tmp_path)
    home = Path(airflow_environ(settings)["AIRFLOW_HOME"])
    home.mkdir(parents=True)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, **airflow_environ(settings), "AIRFLOW__API__PORT": str(port)}
    write_airflow_cfg(home, env)
    airflow = str(Path(sys.executable).with_name("airflow"))
    subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=600)
    log = (tmp_path / "api-server.log").open("w")
    server = subprocess.Popen([airflow, "api-server", "--port", str(port)], env=env, stdout=log,
                              stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"

    def call(path: str, data: dict | None = None, token: str | None = None) -> tuple[int, dict]:
        request = urllib.request.Request(base + path, data=json.dumps(data).encode() if data else None,
                                         headers={"Content-Type": "application/json",
                                                  **({"Authorization": f"Bearer {token}"} if token else {})})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            return error.code, {}

    try:
        deadline = time.monotonic() + 240
        while True:
            assert server.poll() is None, (tmp_path / "api-server.log").read_text()[-3000:]
            try:
                status, _ = call("/api/v2/dags")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                assert time.monotonic() < deadline, (tmp_path / "api-server.log").read_text()[-3000:]
                time.sleep(2)
        assert status in (401, 403), f"the API answered {status} without a login"
        passwords = json.loads((home / "simple_auth_manager_passwords.json.generated").read_text())
        assert set(passwords) == {"admin"}
        status, _ = call("/auth/token", {"username": "admin", "password": "not-the-password"})
        assert status in (401, 403)
        status, body = call("/auth/token", {"username": "admin", "password": passwords["admin"]})
        assert status in (200, 201) and body.get("access_token"), (status, body)
        status, dags = call("/api/v2/dags", token=body["access_token"])
        assert status == 200 and "dags" in dags
        listening = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True).stdout
        assert listening and all("127.0.0.1:" in line for line in listening.splitlines()), listening
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
