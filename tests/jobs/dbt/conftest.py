"""The dbt tests' lake: the fixture lake of tests/jobs/dbt/helpers.py, built once per module with dbt_build."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from regulake.config import Settings
from tests.lean import lean_conf


@dataclass(frozen=True)
class DbtLake:
    settings: Settings
    figures: dict
    target: Path


@pytest.fixture(scope="module")
def dbt_lake(spark, lake_settings: Settings, tmp_path_factory) -> DbtLake:
    """A lake of its own holding the fixture silver/xref tables, after one full dbt_build.

    The session's catalog is attached to this lake for the module (the dbt sources are
    catalog names), then attached back to the session's lake.
    """
    from jobs.dbt.job import dbt_build
    from regulake.spark import get_spark
    from tests.jobs.dbt.helpers import build_fixture_lake

    settings = lake_settings.with_overrides(**{"lake.root": str(tmp_path_factory.mktemp("dbt_lake"))})
    target = tmp_path_factory.mktemp("dbt_target")
    with lean_conf(spark):
        try:
            get_spark(settings)
            build_fixture_lake(spark, settings)
            figures = dbt_build(spark, settings, "test-run-1", target_path=target)
            yield DbtLake(settings, figures, target)
        finally:
            get_spark(lake_settings)
