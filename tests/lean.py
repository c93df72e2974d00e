"""Lean Spark settings for tests on tiny tables, where Spark's fixed costs dominate.

No whole-stage code generation, no adaptive re-planning, no Delta file statistics and single
partitions make each small job about twice as cheap on a busy 2-core machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

LEAN_CONF = {
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.adaptive.enabled": "false",
    "spark.databricks.delta.stats.collect": "false",
    "spark.sql.shuffle.partitions": "1",
    "spark.databricks.delta.snapshotPartitions": "1",
}


@contextmanager
def lean_conf(spark) -> Iterator[None]:
    """LEAN_CONF on the session inside the block, the previous values put back afterwards."""
    previous = {key: spark.conf.get(key, None) for key in LEAN_CONF}
    for key, value in LEAN_CONF.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)
