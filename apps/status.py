"""What `regulake status` reports, computed from the lake's own tables."""

from __future__ import annotations

from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from regulake import lake
from regulake.config import Settings


def lake_status(spark: SparkSession, settings: Settings) -> dict[str, Any]:
    deliveries: list[dict] = []
    delivery_log = lake.read(spark, settings, "audit", "delivery_log")
    if delivery_log is not None:
        deliveries = [
            row.asDict()
            for row in delivery_log.groupBy("status").agg(
                F.count("*").alias("deliveries"), F.sum("manifest_rows").alias("manifest_rows")
            ).orderBy("status").collect()
        ]
    tables = []
    for layer in sorted({*settings.layers, *[d.name for d in spark.catalog.listDatabases()]} - {"default"}):
        if not spark.catalog.databaseExists(layer):
            continue
        for table in sorted(spark.catalog.listTables(layer), key=lambda t: t.name):
            if table.tableType == "VIEW" or table.isTemporary:
                continue
            count = spark.sql(f"SELECT count(*) FROM `{layer}`.`{table.name}`").first()[0]
            tables.append((f"{layer}.{table.name}", count))
    last_run = None
    runs = lake.read(spark, settings, "audit", "pipeline_run")
    if runs is not None:
        row = runs.orderBy(F.desc("finished_at")).first()
        last_run = row.asDict() if row else None
    return {"deliveries": deliveries, "tables": tables, "last_run": last_run}
