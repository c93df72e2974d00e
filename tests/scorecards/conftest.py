"""Lean Spark settings for the scorecard and report tests (tiny tables: fixed costs dominate)."""

from __future__ import annotations

import pytest

LEAN_CONF = {
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.adaptive.enabled": "false",
    "spark.databricks.delta.stats.collect": "false",
    "spark.sql.shuffle.partitions": "1",
    "spark.databricks.delta.snapshotPartitions": "1",
}


@pytest.fixture(scope="module", autouse=True)
def lean_spark(spark):
    previous = {key: spark.conf.get(key, None) for key in LEAN_CONF}
    for key, value in LEAN_CONF.items():
        spark.conf.set(key, value)
    yield
    for key, value in previous.items():
        if value is None:
            spark.conf.unset(key)
        else:
            spark.conf.set(key, value)
