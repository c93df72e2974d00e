"""Compare the gold layer of two lakes row for row, without run ids and timestamps.

`python -m tests.cluster.compare_gold LAKE_A LAKE_B` prints one JSON object: the tables of
each side and, per table, the rows only one side has. Either lake may be local or s3a://
(the process's settings give the s3a endpoint and jars). Run as its own process so the
test's own Spark session does not need the object store's jars.
"""

from __future__ import annotations

import json
import sys

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from regulake.catalog import discover_tables
from regulake.config import load_settings
from regulake.spark import get_spark

# Columns that differ between two correct runs: which run wrote a row, and when.
VOLATILE_SUFFIXES = ("run_id", "_at", "_ts")


def comparable(frame: DataFrame) -> DataFrame:
    """Without volatile columns; maps as sorted entry arrays (set operations refuse map columns)."""
    columns = []
    for field in frame.schema.fields:
        if isinstance(field.dataType, T.TimestampType | T.TimestampNTZType) or field.name.endswith(VOLATILE_SUFFIXES):
            continue
        if isinstance(field.dataType, T.MapType):
            columns.append(F.array_sort(F.map_entries(F.col(field.name))).alias(field.name))
        else:
            columns.append(F.col(field.name))
    return frame.select(*columns)


def compare(lake_a: str, lake_b: str) -> dict:
    spark = get_spark(load_settings(lake_root=lake_a), app_name="regulake-compare-gold")
    tables_a = set(discover_tables(lake_a).get("gold", []))
    tables_b = set(discover_tables(lake_b).get("gold", []))
    differences = {}
    for table in sorted(tables_a & tables_b):
        a = comparable(spark.read.format("delta").load(f"{lake_a}/gold/{table}"))
        b = comparable(spark.read.format("delta").load(f"{lake_b}/gold/{table}"))
        only_a, only_b = a.exceptAll(b).count(), b.exceptAll(a).count()
        if only_a or only_b:
            differences[table] = {"only_in_a": only_a, "only_in_b": only_b,
                                  "example_a": [r.asDict() for r in a.exceptAll(b).limit(2).collect()],
                                  "example_b": [r.asDict() for r in b.exceptAll(a).limit(2).collect()]}
    rows = {t: spark.read.format("delta").load(f"{lake_a}/gold/{t}").count() for t in sorted(tables_a)}
    return {"tables_a": sorted(tables_a), "tables_b": sorted(tables_b), "rows_a": rows,
            "differences": differences}


if __name__ == "__main__":
    print(json.dumps(compare(sys.argv[1], sys.argv[2]), default=str))
