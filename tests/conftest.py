"""Shared fixtures: one local SparkSession per test run, on a throwaway lake."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from regulake.config import Settings, load_settings
from tests.pipeline import SAMPLES


def pytest_configure(config):
    """A throwaway AIRFLOW_HOME for the whole run, set before anything imports Airflow."""
    from apps.airflow_env import airflow_environ

    home = Path(tempfile.mkdtemp(prefix="regulake-airflow-"))
    settings = load_settings().with_overrides(airflow={"home": str(home)})
    os.environ.update(airflow_environ(settings))
    os.environ["REGULAKE__AIRFLOW__HOME"] = str(home)
    # Servers the tests start record where they listen here, not in the user's ~/.cache (apps/sql_client.py).
    os.environ["REGULAKE_SERVE_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="regulake-serve-")
    # Every JVM of the tests (each worker's, and those of the `regulake` processes tests start, but not the
    # loopback cluster's, nor the concurrency test's runs: that test says why) evaluates small data without whole-stage code generation. Compiling each new
    # query shape costs more than it returns there: a rerun that finds nothing new took 217 CPU-seconds
    # with it and 106 without; a whole run over the test landing 624 and 707 (measured 2026-12-06). The
    # chaos test alone restarts `regulake run` twelve times, and CPU is what the suite runs out of on two
    # cores. Results do not depend on it (the cluster test compares gold built with it to gold built without).
    os.environ.setdefault("REGULAKE__SPARK__CONF__spark.sql.codegen.wholeStage", "false")


@pytest.fixture(scope="session")
def lake_settings(tmp_path_factory) -> Settings:
    """Settings pointing at a fresh lake root for this test session."""
    lake = tmp_path_factory.mktemp("lake")
    return load_settings(lake_root=lake).with_overrides(
        # A worker's JVM serves every module the worker runs: the production default of 4 GB (with 3 GB
        # the dbt module's incremental build sank into garbage collection). The runs tests start get 2 GB.
        spark={"master": "local[2]", "conf": {"spark.sql.shuffle.partitions": "2", "spark.driver.memory": "4g"}},
        # The worker's session serves hundreds of small tests: no Spark lineage events. The runs tests start
        # (tests/pipeline.py) keep the listener, and tests/apps/test_lineage_run.py reads what it wrote.
        lineage={"spark_listener": False},
    )


@pytest.fixture
def lake(spark, lake_settings, tmp_path) -> Settings:
    """Settings for a fresh lake of this test; the session's catalog follows it, then goes back."""
    from regulake.spark import get_spark

    settings = lake_settings.with_overrides(**{"lake.root": str(tmp_path / "lake")})
    get_spark(settings)
    yield settings
    get_spark(lake_settings)


@pytest.fixture(scope="session")
def spark(lake_settings):
    """The process's SparkSession, built by the one session factory."""
    from regulake.spark import get_spark, stop_spark

    session = get_spark(lake_settings, app_name="regulake-tests")
    yield session
    stop_spark()


@pytest.fixture(scope="session")
def samples_landing() -> Path:
    if not SAMPLES.is_dir():
        pytest.skip(f"shared samples not found at {SAMPLES}")
    return SAMPLES


# Folders whose modules run on tiny tables, where Spark's fixed costs dominate: each module there
# gets tests/lean.py's LEAN_CONF, put back afterwards.
LEAN_FOLDERS = {"risk", "scorecards", "publish"}


@pytest.fixture(scope="module")
def lean_spark(spark):
    """tests/lean.py's LEAN_CONF on the session for one module, put back afterwards."""
    from tests.lean import lean_conf

    with lean_conf(spark):
        yield spark


@pytest.fixture(scope="module", autouse=True)
def _lean_folders(request):
    """LEAN_CONF for every module of LEAN_FOLDERS (one rule here instead of a conftest copy per folder)."""
    if Path(str(request.path)).parent.name not in LEAN_FOLDERS:
        yield
        return
    request.getfixturevalue("lean_spark")
    yield


def built_once(tmp_path_factory, name: str, build) -> Path:
    """`build(folder)` once for the whole test run, however many xdist workers ask (the first builds under
    a lock, the others wait for it and reuse the folder); a failed build is not reused."""
    import fcntl

    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    folder, done = shared / name, shared / f"{name}.done"
    with (shared / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            if folder.exists():
                import shutil

                shutil.rmtree(folder)
            folder.mkdir()
            build(folder)
            done.touch()
    return folder


@pytest.fixture(scope="session")
def pipeline_landing(tmp_path_factory) -> Path:
    """The landing of tests/pipeline.py: the shared samples, else a small generated one."""
    from tests.pipeline import generate_landing

    if SAMPLES.is_dir():
        return SAMPLES
    return built_once(tmp_path_factory, "generated", generate_landing) / "landing"


@pytest.fixture(scope="session")
def pipeline_lake(pipeline_landing, tmp_path_factory) -> Path:
    """One uninterrupted `regulake run` (the real DAG) over the pipeline landing, shared by the end-to-end,
    chaos and cluster tests (and by every xdist worker). Read-only: a test that writes to a lake copies it
    first."""
    from tests.pipeline import cli

    # No --as-of: historical deliveries are classified on their latest batch date.
    def run(folder: Path) -> None:
        result = cli("run", "--landing", str(pipeline_landing), "--lake", str(folder / "lake"))
        (folder / "run.out").write_text(result.stdout + result.stderr)  # what a person saw: tests/apps/test_run_view.py

    return built_once(tmp_path_factory, "pipeline", run) / "lake"


# The longest modules first, so the two xdist workers start on them and the short ones fill in around
# them (in file order they came last and ran alone on one worker at the end). xdist's loadscope gives a
# worker its next module as soon as two or fewer of its tests are pending, so the one-test chaos module
# would take the next module in this list along, to start only when chaos ends (~35 min, the pipeline
# lake's build included): a quick module goes with it instead, and the other worker takes the
# concurrency, end-to-end and export modules one after another beside chaos.
LONGEST_FIRST = ("tests/chaos/test_kill_and_rerun.py", "tests/cluster/test_cluster.py",
                 "tests/regulake/test_config.py",  # the quick companion of the chaos module (above)
                 "tests/chaos/test_concurrent_runs.py", "tests/apps/test_cli_end_to_end.py",
                 "tests/jobs/export/test_export.py", "tests/dags/test_landing_trigger.py",
                 "tests/apps/test_sql_client.py", "tests/apps/test_serve.py")


def pytest_collection_modifyitems(config, items):
    def rank(item) -> int:
        path = item.nodeid.split("::")[0]
        return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: file order within each rank
