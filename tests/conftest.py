"""Shared fixtures: one local SparkSession per test run, on a throwaway lake."""

from __future__ import annotations

from pathlib import Path

import pytest

from regulake.config import Settings, load_settings

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples" / "landing"


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
