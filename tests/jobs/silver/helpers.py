"""Helpers of the silver tests: bronze-shaped rows and a fake landing.

`FakeLanding` writes what landing would (bronze rows, an `audit.delivery_log`
entry, parse-time quarantine rows) straight from small Python rows, following
the bronze contract of docs/ARCHITECTURE.md, so these tests do not depend on
jobs.landing's readers.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from pyspark.sql import SparkSession

from jobs.landing.bronze import bronze_spark_schema
from regulake import lake
from regulake.config import Settings
from regulake.feeds import FeedSchema, load_feed
from regulake.lake import DELIVERY_LOG_SCHEMA, QUARANTINE_SCHEMA

INGESTED_AT = datetime(2024, 4, 1, 2, 0, 0)


def bronze_rows(schema: FeedSchema, records: list[dict], batch_date: str, delivery_id: str,
                file_name: str = "part-0001.csv", first_record_no: int = 1) -> list[tuple]:
    rows = []
    for offset, record in enumerate(records):
        unknown = set(record) - set(schema.column_names)
        assert not unknown, unknown
        raw = json.dumps(record, ensure_ascii=False, sort_keys=True)
        rows.append(tuple(record.get(name) for name in schema.column_names) + (
            {}, schema.feed_id, batch_date, file_name, first_record_no + offset, INGESTED_AT,
            hashlib.sha256(raw.encode()).hexdigest(), delivery_id))
    return rows


class FakeLanding:
    """Lands deliveries of one feed the way jobs.landing leaves them."""

    def __init__(self, spark: SparkSession, settings: Settings, feed_id: str) -> None:
        self.spark, self.settings, self.schema = spark, settings, load_feed(feed_id)

    def deliver(self, batch_date: str, records: list[dict], mode: str = "incremental",
                landing_quarantined: int = 0, file_name: str = "part-0001.csv") -> str:
        """Land `records` (record numbers after `landing_quarantined` parse errors); returns delivery_id."""
        feed_id = self.schema.feed_id
        delivery_id = hashlib.sha256(f"{feed_id}/{batch_date}/{len(records)}".encode()).hexdigest()[:32]
        rows = bronze_rows(self.schema, records, batch_date, delivery_id, file_name,
                           first_record_no=landing_quarantined + 1)
        frame = self.spark.createDataFrame(rows, bronze_spark_schema(self.schema))
        frame.write.format("delta").mode("append").partitionBy("_batch_date").save(
            self.settings.table_path("bronze", feed_id))
        if landing_quarantined:
            quarantine = self.spark.createDataFrame(
                [(feed_id, batch_date, file_name, n, "parse_error", "wrong number of fields", "a,b", "landing",
                  INGESTED_AT, delivery_id) for n in range(1, landing_quarantined + 1)], QUARANTINE_SCHEMA)
            lake.audit_append(self.spark, self.settings, "quarantine", quarantine)
        entry = self.spark.createDataFrame(
            [(feed_id, batch_date, "loaded", None, len(records) + landing_quarantined, INGESTED_AT, delivery_id,
              "test-run", f"landing/{feed_id}/{batch_date}", mode, 1, len(records), landing_quarantined)],
            DELIVERY_LOG_SCHEMA)
        lake.audit_append(self.spark, self.settings, "delivery_log", entry)
        return delivery_id
