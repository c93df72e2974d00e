"""Lean Spark settings for tests on tiny tables, where Spark's fixed costs dominate.

No whole-stage code generation, no adaptive re-planning, no Delta file statistics and single
partitions make each small job about twice as cheap on a busy 2-core machine.
"""

from __future__ import annotations

from regulake.spark import temporary_conf

LEAN_CONF = {
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.adaptive.enabled": "false",
    "spark.databricks.delta.stats.collect": "false",
    "spark.sql.shuffle.partitions": "1",
    "spark.databricks.delta.snapshotPartitions": "1",
}


def lean_conf(spark):
    """LEAN_CONF on the session inside the block, the previous values put back afterwards."""
    return temporary_conf(spark, LEAN_CONF)
