"""What `regulake status` reports, computed from the lake's own tables."""

from __future__ import annotations

from typing import Any

from pyspark.sql import SparkSession

from regulake.config import Settings


def _exists(spark: SparkSession, name: str) -> bool:
    return spark.catalog.tableExists(name)


def lake_status(spark: SparkSession, settings: Settings) -> dict[str, Any]:
    deliveries: list[dict] = []
    if _exists(spark, "audit.delivery_log"):
        deliveries = [
            row.asDict()
            for row in spark.sql(
                "SELECT status, count(*) AS deliveries, sum(manifest_rows) AS manifest_rows "
                "FROM audit.delivery_log GROUP BY status ORDER BY status"
            ).collect()
        ]
    tables = []
    for layer in sorted({*settings.layers, *[d.name for d in spark.catalog.listDatabases()]} - {"default"}):
        if not spark.catalog.databaseExists(layer):
            continue
        for table in sorted(spark.catalog.listTables(layer), key=lambda t: t.name):
            if table.tableType == "VIEW":
                continue
            count = spark.sql(f"SELECT count(*) FROM `{layer}`.`{table.name}`").first()[0]
            tables.append((f"{layer}.{table.name}", count))
    last_run = None
    if _exists(spark, "audit.pipeline_run"):
        row = spark.sql("SELECT * FROM audit.pipeline_run ORDER BY finished_at DESC LIMIT 1").first()
        last_run = row.asDict() if row else None
    return {"deliveries": deliveries, "tables": tables, "last_run": last_run}
