"""The job's only writes: one as-of partition of a gold table, written only when it changed.

A Delta overwrite or MERGE commits a version even when nothing changes, so the rows are
compared first (as fingerprints) and an unchanged as-of partition is not written at all.
"""

from __future__ import annotations

import logging
from datetime import date

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from regulake import lake
from regulake.config import Settings

log = logging.getLogger(__name__)

PARTITION = "as_of_date"


def fingerprints(df: DataFrame, columns: list[str]) -> DataFrame:
    """One hash per row over `columns` (to_json: maps and arrays compare too)."""
    return df.select(F.sha2(F.to_json(F.struct(*[F.col(c) for c in columns])), 256).alias("_fp"))


def same_rows(new: DataFrame, old: DataFrame, columns: list[str]) -> bool:
    a, b = fingerprints(new, columns), fingerprints(old, columns)
    return a.exceptAll(b).isEmpty() and b.exceptAll(a).isEmpty()


def write_as_of(spark: SparkSession, settings: Settings, name: str, rows: DataFrame, as_of: date,
                ignore: tuple[str, ...] = ()) -> bool:
    """Replace the as-of partition of gold.<name> with `rows` unless it already holds them
    (columns in `ignore`, e.g. a draw timestamp, do not count). True when written."""
    compared = [c for c in rows.columns if c not in ignore]
    table = lake.read(spark, settings, "gold", name)
    if table is not None:
        held = table.where(F.col(PARTITION) == F.lit(as_of))
        if set(compared) <= set(held.columns) and same_rows(rows, held, compared):
            log.info("gold.%s as of %s unchanged: not written", name, as_of)
            lake.register(spark, settings, "gold", name)
            return False
    lake.overwrite(spark, settings, "gold", name, rows, replace_where=f"{PARTITION} = '{as_of.isoformat()}'",
                   partition_by=(PARTITION,), options={"mergeSchema": "true"})
    log.info("gold.%s as of %s written", name, as_of)
    return True
