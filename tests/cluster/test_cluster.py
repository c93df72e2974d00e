"""The loopback cluster end to end: Spark standalone, an S3 object store and PostgreSQL.

One module-scoped cluster (scripts/cluster.sh up, in a throwaway folder) runs the main DAG over
the end-to-end tests' landing (tests/pipeline.py) copied into the object store, through the real Airflow scheduler
(`regulake run --scheduler`: `airflow dags trigger` and a wait; LocalExecutor, every task its own
process and a Spark Connect client of the cluster's one driver, the lake on s3a, the metadata DB
on PostgreSQL) while one Spark worker is killed. Its gold layer must equal, row for row, that of
the embedded default run over the same landing (the session's `pipeline_lake`), and `regulake serve` on the cluster must answer
a HiveServer2 query.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from tests.endpoint import ANALYST, connect, users_env
from tests.pipeline import PERSON_ID_SALT

PROJECT = Path(__file__).resolve().parents[2]
CLUSTER = PROJECT / "scripts" / "cluster.sh"
PYTHON = sys.executable
REGULAKE = str(Path(PYTHON).with_name("regulake"))
# The same person_id key as the embedded run, so person_id columns compare equal.
SALT = PERSON_ID_SALT

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


def _run(cmd: list[str], env: dict[str, str], timeout: int, what: str) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd=PROJECT)
    assert result.returncode == 0, f"{what} failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-6000:]}"
    return result


def _sourced(env_file: Path, base: dict[str, str]) -> dict[str, str]:
    """The environment after `source env_file` (the cluster's settings, as a person gets them)."""
    dumped = subprocess.run(["bash", "-c", f"set -a; source {env_file}; env -0"], capture_output=True,
                            env=base, check=True).stdout
    return dict(item.split("=", 1) for item in dumped.decode().split("\0") if "=" in item)


def _base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REGULAKE__", "AIRFLOW"))}
    env["REGULAKE_PERSON_ID_SALT"] = SALT
    return env


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """(cluster folder, the cluster's environment); brought down afterwards whatever happened."""
    base = _base_env()
    _run(["bash", str(CLUSTER), "setup"], base, 1200, "scripts/cluster.sh setup")
    # Not under pytest's private tmp folder: PostgreSQL runs as its own user and must reach its data.
    (PROJECT / ".cluster-test").mkdir(exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="cluster-", dir=PROJECT / ".cluster-test"))
    folder.chmod(0o755)  # mkdtemp's 0700 would keep the postgres user out; the env file inside stays 0600
    env = base | {"CLUSTER_DIR": str(folder)}
    for port in (7077, 8333, 5433, 8080, 15002):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                pytest.fail(f"127.0.0.1:{port} is already in use: stop the other cluster (make cluster-down) first")
    try:
        _run(["bash", str(CLUSTER), "up"], env, 900, "scripts/cluster.sh up")
        yield folder, _sourced(folder / "env", env) | {"REGULAKE_PERSON_ID_SALT": SALT,
                                                       "REGULAKE__PIPELINE__SCHEDULE": "null"}
    finally:
        subprocess.run(["bash", str(CLUSTER), "down"], env=env, timeout=300, capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def _kill_worker_when_running(folder: Path, after_seconds: float, done: threading.Event, killed: list) -> None:
    """SIGKILL the process group (worker and executor) of the worker that runs the Connect server's
    executor, once the run is under way: its tasks must be rescheduled on the other worker."""
    if done.wait(after_seconds):
        return
    busy = [n for n in (1, 2) if any((folder / "spark" / f"worker-{n}").glob("app-*/*"))] or [2]
    pid = int((folder / "pids" / f"spark-worker-{busy[0]}.pid").read_text())
    os.killpg(pid, signal.SIGKILL)
    killed.append(busy[0])


def _task_errors(folder: Path) -> str:
    """The error of every failed task attempt (Airflow's JSON task logs), for the failure message:
    the cluster folder is removed afterwards."""
    found = []
    for log in sorted((folder / "airflow" / "logs").rglob("attempt=*.log")):
        for line in log.read_text(errors="replace").splitlines():
            if '"level":"error"' not in line.replace(" ", ""):
                continue
            try:
                event = json.loads(line)
            except ValueError:
                continue
            for detail in event.get("error_detail") or []:
                frames = [f"{f['filename']}:{f['lineno']}" for f in detail.get("frames", [])[-4:]]
                found.append(f"{log.relative_to(folder)}: {detail.get('exc_type')}: "
                             f"{str(detail.get('exc_value'))[:500]} at {' <- '.join(reversed(frames))}")
    return "\n".join(found[:20]) or "(no task error logged)"


@pytest.fixture(scope="module")
def cluster_run(cluster, pipeline_landing):
    folder, env = cluster
    lake = env["REGULAKE__LAKE__ROOT"]
    target = "s3a://landing/cluster-test"
    _run([PYTHON, "-c", "import sys; from regulake.storage import copy_tree; copy_tree(sys.argv[1], sys.argv[2])",
          str(pipeline_landing), target], env, 600, "copying the landing into the object store")
    # No --as-of, as the embedded run: the latest batch date of the deliveries.
    command = [REGULAKE, "run", "--scheduler", "--landing", target]
    done, killed = threading.Event(), []
    killer = threading.Thread(target=_kill_worker_when_running, args=(folder, 120, done, killed), daemon=True)
    killer.start()
    started = time.monotonic()
    try:
        result = _run(command, env, 3600, "the main DAG on the cluster")
    except AssertionError as failure:
        raise AssertionError(f"{failure}\n{_task_errors(folder)}") from None
    finally:
        done.set()
    # As an operator would: the killed worker back (cluster.sh up starts what is not running), so the
    # endpoint below gets the core the Connect server leaves free.
    _run(["bash", str(CLUSTER), "up"], env | {"CLUSTER_DIR": str(folder)}, 600, "restarting the killed worker")
    return {"lake": lake, "seconds": time.monotonic() - started, "worker_killed": bool(killed),
            "output": result.stdout + result.stderr}


def test_the_lake_is_in_the_object_store_and_the_run_survived_a_killed_worker(cluster_run):
    assert cluster_run["lake"].startswith("s3a://")
    assert cluster_run["worker_killed"], "the run finished before the worker was killed: kill it earlier"
    assert "pipeline succeeded" in cluster_run["output"]


def test_cluster_gold_equals_the_embedded_gold_row_for_row(cluster, cluster_run, pipeline_lake):
    _folder, env = cluster
    local = {k: v for k, v in env.items() if k != "REGULAKE__SPARK__REMOTE"} | {"REGULAKE__SPARK__MASTER": "local[2]"}
    compared = _run([PYTHON, "-m", "tests.cluster.compare_gold", str(pipeline_lake), cluster_run["lake"]],
                    local, 900, "comparing gold")
    report = json.loads(compared.stdout.strip().splitlines()[-1])
    assert report["tables_a"], "the embedded run wrote no gold table"
    assert report["tables_a"] == report["tables_b"]
    assert sum(report["rows_a"].values()) > 0
    assert report["differences"] == {}, json.dumps(report["differences"], indent=1, default=str)[:6000]


def test_serve_on_the_cluster_answers_a_hiveserver2_query(cluster, cluster_run, tmp_path):

    _folder, env = cluster
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tmp_path / "serve.log"
    with log.open("w") as sink:
        server = subprocess.Popen([REGULAKE, "serve", "--lake", cluster_run["lake"], "--port", str(port)],
                                  stdout=sink, stderr=subprocess.STDOUT, env=env | users_env(tmp_path), cwd=PROJECT)
    try:
        deadline = time.monotonic() + 300
        while True:
            assert server.poll() is None, f"regulake serve exited: {log.read_text()[-3000:]}"
            try:
                connection = connect(port, ANALYST)
                break
            except Exception:  # noqa: BLE001 - not listening yet
                assert time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(3)
        cursor = connection.cursor()
        cursor.execute("SELECT count(*) FROM gold.dim_enterprise")
        (count,), = cursor.fetchall()
        assert count > 0
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()


_WRITE_THROUGH_METASTORE = """
from regulake import lake
from regulake.catalog import save_view
from regulake.config import load_settings
from regulake.spark import get_spark

settings = load_settings()
spark = get_spark(settings)
lake.append(spark, settings, "gold", "metastore_probe", spark.createDataFrame([(1, "a"), (2, "b")], "id int, v string"))
save_view(spark, settings, "public", "metastore_probe_v", "SELECT id FROM gold.metastore_probe")
"""

# Another engine: a plain Spark session with Delta and the metastore settings only (not get_spark,
# so no lake-path attach): whatever it sees comes from the metastore.
_READ_FROM_ANOTHER_ENGINE = """
import json
from pyspark.sql import SparkSession
from regulake.config import load_settings
from regulake.jars import local_jar_paths
from regulake.metastore import metastore_conf
from regulake.spark import DELTA_CONF

builder = SparkSession.builder.master("local[1]").appName("another-engine")
for key, value in {**DELTA_CONF, **metastore_conf(load_settings()), "spark.jars": ",".join(local_jar_paths())}.items():
    builder = builder.config(key, value)
spark = builder.getOrCreate()
print(json.dumps({"gold": sorted(t.name for t in spark.catalog.listTables("gold")),
                  "view_rows": spark.sql("SELECT count(*) FROM public.metastore_probe_v").first()[0]}))
"""


def test_the_hive_metastore_catalog_is_shared_with_other_engines(cluster, tmp_path):
    """catalog: hive_metastore on the cluster's PostgreSQL: a table and a `public` view created by one
    process are seen by a plain Spark session in another that never looked at the lake's folders."""
    _folder, env = cluster
    hive = {k: v for k, v in env.items() if k != "REGULAKE__SPARK__REMOTE"} | {
        "REGULAKE__CATALOG": "hive_metastore", "REGULAKE__SPARK__MASTER": "local[1]",
        "REGULAKE__LAKE__ROOT": str(tmp_path / "lake")}
    _run([PYTHON, "-c", _WRITE_THROUGH_METASTORE], hive, 600, "writing through the metastore catalog")
    read = _run([PYTHON, "-c", _READ_FROM_ANOTHER_ENGINE], hive, 600, "reading from another engine")
    seen = json.loads(read.stdout.strip().splitlines()[-1])
    assert seen == {"gold": ["metastore_probe"], "view_rows": 2}
