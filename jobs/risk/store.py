"""The job's only writes: one as-of partition of a gold table, written only when it changed.

A Delta overwrite or MERGE commits a version even when nothing changes, so the rows are
compared first (as fingerprints) and an unchanged as-of partition is not written at all.
"""

from __future__ import annotations

import logging
from datetime import date

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from regulake.catalog import register_table
from regulake.config import Settings

log = logging.getLogger(__name__)

PARTITION = "as_of_date"


def table_exists(spark: SparkSession, path: str) -> bool:
    from delta.tables import DeltaTable

    return DeltaTable.isDeltaTable(spark, path)


def read_table(spark: SparkSession, settings: Settings, name: str) -> DataFrame | None:
    path = settings.table_path("gold", name)
    return spark.read.format("delta").load(path) if table_exists(spark, path) else None


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
    path = settings.table_path("gold", name)
    compared = [c for c in rows.columns if c not in ignore]
    if table_exists(spark, path):
        held = spark.read.format("delta").load(path).where(F.col(PARTITION) == F.lit(as_of))
        if set(compared) <= set(held.columns) and same_rows(rows, held, compared):
            log.info("gold.%s as of %s unchanged: not written", name, as_of)
            register_table(spark, settings.lake_root, "gold", name)
            return False
        (rows.write.format("delta").mode("overwrite").option("replaceWhere", f"{PARTITION} = '{as_of.isoformat()}'")
         .option("mergeSchema", "true").save(path))
    else:
        rows.write.format("delta").mode("overwrite").partitionBy(PARTITION).save(path)
    register_table(spark, settings.lake_root, "gold", name)
    log.info("gold.%s as of %s written", name, as_of)
    return True
