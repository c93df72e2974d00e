"""`regulake sql` through a running `regulake serve` (no JVM in the client, logged as the client's user) and
in this process (the pytest session's Spark): the same output, and missing tables and columns named.

One real server for the module, on a lake of persisted views only (no Delta writes needed to start it);
it records itself in a runtime folder of this test, which the clients are pointed at.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from apps.sql_client import (
    PASSWORD_ENV,
    RUNTIME_DIR_ENV,
    USER_ENV,
    find_servers,
    record_path,
    remove_record,
    write_record,
)
from tests.apps.test_serve import REGULAKE, STARTUP_SECONDS, _env, _free_port, _query, _wait_for
from tests.endpoint import ANALYST, STEWARD, connect, users_env

VIEWS = {
    "public.scorecard": "SELECT * FROM VALUES ('north', 1), ('south', 2) AS t(unit, score)",
    # Every kind of value a statement returns, at the top level and inside arrays, maps and structs.
    "public.types": (
        "SELECT 1 AS i, CAST(2 AS BIGINT) AS l, 'x,\"y' AS s, DATE'2024-01-02' AS d, "
        "TIMESTAMP'2024-01-02 03:04:05.5' AS t, TIMESTAMP_NTZ'2024-01-02 03:04:05' AS ntz, "
        "CAST(1.5 AS DECIMAL(5,2)) AS m, CAST(NULL AS STRING) AS n, 2.5D AS f, CAST(0.1 AS FLOAT) AS f32, "
        "true AS b, '张三' AS zh, array(1, 2) AS a, map('b', 2, 'a', 1) AS mp, "
        "named_struct('k', 1, 'v', 'y', 'at', TIMESTAMP'2024-01-02 03:04:05', 'on', DATE'2024-01-02', "
        "'amount', CAST(1.5 AS DECIMAL(5,2))) AS st, "
        "array(TIMESTAMP'2024-01-02 03:04:05.5', NULL) AS ts, map(2, 'b', 1, 'a') AS im, "
        "array(named_struct('q', 'say \"hi\"')) AS quoted"),
    # Personal data: not among the analyst's grants.
    "gold.enterprise_person": "SELECT 'p' AS person_name, 'r' AS ric",
}


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory):
    """`regulake serve` over a lake of views, recording itself in this module's runtime folder."""
    lake = tmp_path_factory.mktemp("sql_lake").resolve()
    views = lake / "_catalog" / "views"
    views.mkdir(parents=True)
    for name, select in VIEWS.items():
        (views / f"{name}.sql").write_text(select, encoding="utf-8")
    runtime = tmp_path_factory.mktemp("sql_runtime") / "serve"
    users = users_env(tmp_path_factory.mktemp("sql_users"))
    workdir = tmp_path_factory.mktemp("sql_cwd")
    log_file = workdir.parent / f"{workdir.name}.log"
    port = _free_port()
    client_env = {RUNTIME_DIR_ENV: str(runtime)}
    env = _env() | users | client_env | {"REGULAKE__SERVE__QUERY_LOG_FLUSH_SECONDS": "3"}
    with open(log_file, "w") as log:
        process = subprocess.Popen([REGULAKE, "serve", "--lake", str(lake), "--port", str(port), "--refresh", "1"],
                                   stdout=log, stderr=subprocess.STDOUT, env=env, cwd=workdir)
    try:
        _wait_for("the server's record", lambda: find_servers(str(lake), client_env), STARTUP_SECONDS, process,
                  log_file)
        steward = _wait_for("a steward's connection", lambda: connect(port, STEWARD), 60, process, log_file)
        # A new server's first statement compiles for seconds: over before the timing below.
        assert _query(steward, "SELECT count(*) FROM public.scorecard") == [(2,)]
        yield {"lake": str(lake), "port": port, "process": process, "log": log_file, "steward": steward,
               "env": client_env}
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="module")
def in_process(lean_spark, lake_settings):
    """The in-process path runs on this session (its catalog follows the lake; put back afterwards)."""
    from regulake.spark import get_spark

    yield lean_spark
    get_spark(lake_settings)


def _cli(endpoint: dict, query: str, *options: str, who: tuple[str, str] | None = None):
    """`regulake sql` in this process (CliRunner): as `who` through the endpoint, or without a user."""
    from typer.testing import CliRunner

    from apps.cli import app

    env = endpoint["env"] | {USER_ENV: who[0] if who else None, PASSWORD_ENV: who[1] if who else None}
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        return CliRunner().invoke(app, ["sql", query, "--lake", endpoint["lake"], *options], env=env)
    finally:
        root.handlers[:], root.level = handlers, level  # the command sets up its own logging


def test_the_record_names_only_a_live_server_of_this_lake_that_this_user_owns(tmp_path):
    env = {RUNTIME_DIR_ENV: str(tmp_path / "serve")}
    path = write_record("/lakes/a", "0.0.0.0", 10001, environ=env)
    assert path.stat().st_mode & 0o777 == 0o600 and path.parent.stat().st_mode & 0o777 == 0o700
    [record] = find_servers("/lakes/a", env)
    assert (record.port, record.pid, record.address) == (10001, os.getpid(), "127.0.0.1:10001")
    assert find_servers("/lakes/b", env) == []
    # A server killed with SIGKILL leaves its record: its pid is gone, so it is ignored and removed.
    killed = subprocess.Popen(["true"])
    killed.wait()
    stale = record_path("/lakes/a", 10002, env)
    stale.write_text(json.dumps({"host": "127.0.0.1", "port": 10002, "pid": killed.pid, "lake": "/lakes/a"}))
    stale.chmod(0o600)
    assert [r.port for r in find_servers("/lakes/a", env)] == [10001]
    assert not stale.exists()
    # A record that others could have written is not trusted with a password.
    path.chmod(0o622)
    assert find_servers("/lakes/a", env) == []
    path.chmod(0o600)
    remove_record(path)
    assert not path.exists()


def test_select_1_goes_through_serve_as_the_user_without_a_jvm(endpoint):
    """No Java and no Spark for the client: had it started a JVM, it would fail."""
    no_jvm = os.environ | endpoint["env"] | {"JAVA_HOME": "/nonexistent", "SPARK_HOME": "/nonexistent"}
    command = [REGULAKE, "sql", "SELECT 1", "--lake", endpoint["lake"], "--format", "csv"]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, timeout=120,
                            env=no_jvm | {USER_ENV: ANALYST[0], PASSWORD_ENV: ANALYST[1]})
    elapsed = time.perf_counter() - started
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines() == ["1", "1"]
    assert "starting Spark" not in result.stderr, result.stderr
    print(f"regulake sql 'SELECT 1' through regulake serve: {elapsed:.2f} s")
    # The check can fail: without a user the same command starts Spark here, which finds no Java.
    fallback = subprocess.run(command, capture_output=True, text=True, timeout=120,
                              env={k: v for k, v in no_jvm.items() if k not in (USER_ENV, PASSWORD_ENV)})
    assert fallback.returncode != 0 and not fallback.stdout
    assert "starting Spark in this process for this one statement" in fallback.stderr
    assert "no user is given" in fallback.stderr and USER_ENV in fallback.stderr


@pytest.mark.parametrize("options", [("--format", "table"), ("--format", "csv"), ("--format", "json")])
def test_both_paths_print_the_same(endpoint, in_process, options):
    query = "SELECT * FROM public.types"
    through_serve = _cli(endpoint, query, *options, who=ANALYST)
    here = _cli(endpoint, query, *options)
    assert through_serve.exit_code == 0, through_serve.stderr
    assert here.exit_code == 0, here.stderr
    assert "starting Spark" not in through_serve.stderr
    assert "starting Spark in this process" in here.stderr
    assert through_serve.stdout == here.stdout
    if options[1] == "json":
        [row] = [json.loads(line) for line in through_serve.stdout.splitlines()]
        assert row == {
            "i": 1, "l": 2, "s": 'x,"y', "d": "2024-01-02", "t": "2024-01-02 03:04:05.500000",
            "ntz": "2024-01-02 03:04:05", "m": "1.50", "n": None, "f": 2.5, "f32": 0.1, "b": True, "zh": "张三",
            "a": [1, 2], "mp": {"a": 1, "b": 2},
            "st": {"k": 1, "v": "y", "at": "2024-01-02 03:04:05", "on": "2024-01-02", "amount": 1.5},
            "ts": ["2024-01-02 03:04:05.5", None], "im": {"1": "a", "2": "b"},
            # A string holding a quote: the endpoint's text is no JSON, so both paths print that text.
            "quoted": '[{"q":"say "hi""}]',
        }


def test_limit_applies_to_the_table_on_both_paths(endpoint, in_process):
    query = "SELECT unit FROM public.scorecard ORDER BY unit"
    through_serve = _cli(endpoint, query, "--limit", "1", who=ANALYST)
    here = _cli(endpoint, query, "--limit", "1")
    assert through_serve.exit_code == here.exit_code == 0
    assert "north" in through_serve.stdout and "south" not in through_serve.stdout
    assert through_serve.stdout == here.stdout


MISSING = {
    "SELECT * FROM public.nope": "no table public.nope; public holds: scorecard, types",
    "SELECT nope FROM public.scorecard WHERE score > 0":
        "no column nope in public.scorecard; public.scorecard has: unit, score",
    "SELECT * FROM scorecard": "no table scorecard in database default (it holds: nothing); "
                               "did you mean public.scorecard?",
}


@pytest.mark.parametrize("who", [ANALYST, None], ids=["through-serve", "in-process"])
def test_a_missing_table_or_column_is_named_with_what_is_there(endpoint, in_process, who):
    for query, expected in MISSING.items():
        result = _cli(endpoint, query, who=who)
        assert result.exit_code == 1, (query, result.stdout, result.stderr)
        assert not result.stdout
        assert result.stderr.strip().splitlines()[-1] == expected, result.stderr
        for noise in ("Traceback", "'Project", "UnresolvedRelation", "SQLSTATE", "Exception"):
            assert noise not in result.stderr, (query, result.stderr)
    result = _cli(endpoint, "SELECT * FROM nowhere.x", who=who)
    assert result.exit_code == 1
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("no database nowhere; the lake's databases: "), line
    assert {"audit", "gold", "public"} <= set(line.split(": ", 1)[1].split(", ")), line


def test_the_endpoint_keeps_its_roles_and_refuses_a_wrong_password(endpoint):
    denied = _cli(endpoint, "SELECT * FROM gold.enterprise_person", who=ANALYST)
    assert denied.exit_code == 1 and not denied.stdout
    assert denied.stderr.strip() == \
        "permission denied for analyst (role analyst): role analyst may not read gold.enterprise_person"
    steward = _cli(endpoint, "SELECT ric FROM gold.enterprise_person", "--format", "csv", who=STEWARD)
    assert steward.exit_code == 0 and steward.stdout.splitlines() == ["ric", "r"], steward.stderr
    wrong = _cli(endpoint, "SELECT 1", who=(ANALYST[0], "wrong-password-1"))
    assert wrong.exit_code == 1 and "refused the login of analyst" in wrong.stderr
    assert "starting Spark" not in wrong.stderr, "a refused login must not fall back to Spark"
    no_password = _cli(endpoint, "SELECT 1", "--user", "analyst")
    assert no_password.exit_code == 2 and "no password for analyst" in no_password.stderr
    assert PASSWORD_ENV in no_password.stderr


def test_the_endpoint_logged_the_statements_under_the_clients_user(endpoint):
    """After the tests above, which the server flushed to audit.query_log meanwhile."""
    def logged():
        rows = _query(endpoint["steward"], "SELECT user_name, role, outcome, rows_returned, statement "
                                           "FROM audit.query_log WHERE user_name = 'analyst'")
        return rows if any(row[2] == "denied" for row in rows) else None

    rows = _wait_for("the analyst's statements in audit.query_log", logged, 60, endpoint["process"], endpoint["log"])
    assert ("analyst", "analyst", "ok", 1, "SELECT 1") in rows, rows
    assert ("analyst", "analyst", "denied", 0, "SELECT * FROM gold.enterprise_person") in rows, rows


def test_a_stopped_server_removes_its_record_and_sql_says_why_spark_starts(endpoint, in_process):
    process = endpoint["process"]
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=120) == 0, Path(endpoint["log"]).read_text()[-3000:]
    assert find_servers(endpoint["lake"], endpoint["env"]) == []
    assert not list(Path(endpoint["env"][RUNTIME_DIR_ENV]).glob("*.json"))
    result = _cli(endpoint, "SELECT count(*) AS n FROM public.scorecard", "--format", "csv", who=ANALYST)
    assert result.exit_code == 0 and result.stdout.splitlines() == ["n", "2"], result.stderr
    lake = endpoint["lake"]
    [notice] = [line for line in result.stderr.splitlines() if "starting Spark" in line]
    assert notice == (
        "starting Spark in this process for this one statement (about 30 s): no `regulake serve` is running "
        f"for this lake; start one with `regulake serve --lake {lake}` (or `make serve LAKE={lake}`) and set "
        f"{USER_ENV} and {PASSWORD_ENV} (a `regulake users add` user) to answer in about a second")
