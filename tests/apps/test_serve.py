"""`regulake serve`: a real HiveServer2 client reads gold and public views while another process writes.

The server process starts first (its JVM boots while this process builds the tiny lake), so
the tables reach it through the periodic catalog refresh, as a concurrent run's would.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.lean import LEAN_CONF

REGULAKE = str(Path(sys.executable).with_name("regulake"))
SCORECARD_VIEW = "SELECT unit_type, unit_code, period, total_score, `rank`, band FROM gold.efficacy_scorecard"
STARTUP_SECONDS = 240


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _env() -> dict[str, str]:
    env = os.environ.copy()
    env["REGULAKE__SPARK__MASTER"] = "local[1]"
    env["REGULAKE__SPARK__CONF__spark.driver.memory"] = "1g"
    env.update({f"REGULAKE__SPARK__CONF__{key}": value for key, value in LEAN_CONF.items()})
    return env


def _scorecard_rows(spark, batch: int):
    rows = [("department", f"D{batch:03d}", "2024-03", 80.0 + batch % 10, 1, "green"),
            ("region", "410105", "2024", 55.5, 2, "red")]
    return spark.createDataFrame(rows, "unit_type string, unit_code string, period string, "
                                       "total_score double, rank int, band string")


def _query(connection, sql: str) -> list[tuple]:
    cursor = connection.cursor()
    try:
        cursor.execute(sql)
        return cursor.fetchall()
    finally:
        cursor.close()


def _wait_for(what: str, check, seconds: float, server: subprocess.Popen, log_file: Path):
    deadline = time.monotonic() + seconds
    while True:
        if server.poll() is not None:
            pytest.fail(f"regulake serve exited with {server.returncode}:\n{log_file.read_text()[-3000:]}")
        try:
            result = check()
            if result:
                return result
        except Exception:  # noqa: BLE001 - not there yet
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not reached after {seconds}s:\n{log_file.read_text()[-3000:]}")
        time.sleep(1)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`regulake serve` on an empty lake folder with a persisted public view; stopped with SIGTERM."""
    lake = tmp_path_factory.mktemp("serve_lake")
    views = lake / "_catalog" / "views"
    views.mkdir(parents=True)
    (views / "public.efficacy_scorecard.sql").write_text(SCORECARD_VIEW, encoding="utf-8")
    workdir = tmp_path_factory.mktemp("serve_cwd")
    log_file = workdir.parent / f"{workdir.name}.log"
    port = _free_port()
    with open(log_file, "w") as log:
        process = subprocess.Popen(
            [REGULAKE, "serve", "--lake", str(lake), "--port", str(port), "--refresh", "1"],
            stdout=log, stderr=subprocess.STDOUT, env=_env(), cwd=workdir,
        )
    try:
        yield {"process": process, "lake": lake, "port": port, "log": log_file, "cwd": workdir}
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_serve_reads_gold_and_public_while_another_process_writes(server, lean_spark):
    from pyhive import hive

    spark, lake, process, log_file = lean_spark, server["lake"], server["process"], server["log"]
    scorecard = str(lake / "gold" / "efficacy_scorecard")
    _scorecard_rows(spark, 0).write.format("delta").save(scorecard)
    spark.range(5).write.format("delta").save(str(lake / "gold" / "numbers"))

    connection = _wait_for(
        "a HiveServer2 connection",
        lambda: hive.connect(host="127.0.0.1", port=server["port"], username="analyst", database="default"),
        STARTUP_SECONDS, process, log_file,
    )
    stop_writing = threading.Event()
    commits: list[int] = []
    errors: list[BaseException] = []

    def writer() -> None:
        batch = 1
        try:
            while not stop_writing.wait(0.5):
                _scorecard_rows(spark, batch).write.format("delta").mode("append").save(scorecard)
                commits.append(batch)
                batch += 1
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)

    thread = threading.Thread(target=writer, daemon=True)
    try:
        # The tables written after the server started reach it through the refresh.
        _wait_for("gold.efficacy_scorecard and public.efficacy_scorecard in the catalog",
                  lambda: _query(connection, "SELECT count(*) FROM public.efficacy_scorecard"),
                  60, process, log_file)
        assert {"gold", "public"} <= {row[0] for row in _query(connection, "SHOW DATABASES")}
        thread.start()
        counts = []
        deadline = time.monotonic() + 120
        # Read while the writer commits, until the table has visibly grown.
        while time.monotonic() < deadline and (len(counts) < 2 or counts[-1] <= counts[0]):
            counts.append(_query(connection, "SELECT count(*) FROM gold.efficacy_scorecard")[0][0])
            view_rows = _query(connection, "SELECT DISTINCT unit_type, band FROM public.efficacy_scorecard "
                                           "WHERE unit_code = '410105'")
            assert view_rows == [("region", "red")]
        assert not errors, errors
        assert counts == sorted(counts), f"a reader saw the table shrink: {counts}"
        assert counts[-1] > counts[0] >= 2, f"no concurrent commit became visible: {counts}"
        assert all(count % 2 == 0 for count in counts), f"a partial commit was visible: {counts}"
        assert _query(connection, "SELECT sum(id) FROM gold.numbers") == [(10,)]
        # A database named when the session opens, as beeline and JDBC tools do for
        # jdbc:hive2://host:port/public (PyHive then also runs USE public itself).
        in_public = hive.connect(host="127.0.0.1", port=server["port"], username="bi", database="public",
                                 configuration={"use:database": "public"})
        try:
            assert _query(in_public, "SELECT DISTINCT band FROM efficacy_scorecard WHERE unit_type = 'region'") \
                == [("red",)]
        finally:
            in_public.close()
    finally:
        stop_writing.set()
        if thread.is_alive():
            thread.join(timeout=120)
        connection.close()
    assert commits, "the writer committed nothing"
    assert process.poll() is None, "the server should still be running"

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=120) == 0, log_file.read_text()[-3000:]
    output = log_file.read_text()
    assert "stopped" in output, output[-3000:]
    # No metastore and no Derby files: the catalog is the lake.
    assert not list(server["cwd"].iterdir())
    assert not (lake / "metastore_db").exists()
