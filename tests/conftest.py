"""Shared fixtures: one local SparkSession per test run, on a throwaway lake."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from regulake.config import Settings, load_settings

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples" / "landing"


def pytest_configure(config):
    """A throwaway AIRFLOW_HOME for the whole run, set before anything imports Airflow."""
    from regulake.airflow_env import airflow_environ

    home = Path(tempfile.mkdtemp(prefix="regulake-airflow-"))
    settings = load_settings().with_overrides(airflow={"home": str(home)})
    os.environ.update(airflow_environ(settings))
    os.environ["REGULAKE__AIRFLOW__HOME"] = str(home)


@pytest.fixture(scope="session")
def lake_settings(tmp_path_factory) -> Settings:
    """Settings pointing at a fresh lake root for this test session."""
    lake = tmp_path_factory.mktemp("lake")
    return load_settings(lake_root=lake).with_overrides(
        spark={"master": "local[2]", "conf": {"spark.sql.shuffle.partitions": "2"}}
    )


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


# Tiny tables: Spark's fixed costs dominate, so skip code generation, adaptive
# re-planning and Delta file statistics, and use single partitions.
LEAN_CONF = {
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.adaptive.enabled": "false",
    "spark.databricks.delta.stats.collect": "false",
    "spark.sql.shuffle.partitions": "1",
    "spark.databricks.delta.snapshotPartitions": "1",
}


@pytest.fixture(scope="module")
def lean_spark(spark):
    """LEAN_CONF on the session for one module, put back afterwards."""
    previous = {key: spark.conf.get(key, None) for key in LEAN_CONF}
    for key, value in LEAN_CONF.items():
        spark.conf.set(key, value)
    yield spark
    for key, value in previous.items():
        if value is None:
            spark.conf.unset(key)
        else:
            spark.conf.set(key, value)
