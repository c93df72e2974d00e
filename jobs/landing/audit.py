"""The audit tables landing writes: `audit.delivery_log` and `audit.quarantine`.

Their schemas are declared in `regulake.lake` (with every other audit table's). A
retried or re-run task never adds a row twice: quarantine rows that may already be
there are written with a MERGE keyed on (delivery_id, file_name, record_no), and the
delivery log only receives entries the run did not find in it. Both tables are
partitioned by `feed_id` and the MERGE names its feed in the condition: the landing
tasks of different feeds run in parallel, and Delta only lets concurrent writes
through when they provably touch different partitions. A conflict that still happens
is retried (`regulake.lake.with_retry`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from regulake import lake
from regulake.config import Settings
from regulake.delta_rows import read_rows
from regulake.lake import DELIVERY_LOG_SCHEMA, QUARANTINE_SCHEMA


def read_delivery_log(settings: Settings, feed_id: str) -> dict[tuple[str, str], str]:
    """{(delivery_id, status): location} of everything already logged for the feed.

    Read with delta-rs (`regulake.delta_rows`, a row per delivery): a feed with nothing new is
    decided without starting Spark."""
    rows = read_rows(settings, "audit", "delivery_log", ("feed_id", "delivery_id", "status", "location"))
    return {(row["delivery_id"], row["status"]): row["location"] for row in rows if row["feed_id"] == feed_id}


def delivery_log_frame(spark: SparkSession, entries: Sequence[dict[str, Any]]) -> DataFrame:
    """Log entries (dicts with the DELIVERY_LOG_SCHEMA keys but processed_at) as a DataFrame."""
    now = datetime.now(UTC)
    rows = [tuple(now if f.name == "processed_at" else e.get(f.name) for f in DELIVERY_LOG_SCHEMA.fields)
            for e in entries]
    return spark.createDataFrame(rows, DELIVERY_LOG_SCHEMA)


def append_delivery_log(spark: SparkSession, settings: Settings, feed_id: str,
                        entries: Sequence[dict[str, Any]]) -> None:
    """Append log entries; the caller passes only entries not logged yet (read at the run's start).

    A plain append, not a MERGE: the job already knows what the log holds, the
    append is atomic, and a rerun after a crash reads the log again. (Two runs
    of the same feed at the same time are not supported anyway: the bronze
    append is not guarded either, see docs/ARCHITECTURE.md.)
    """
    if not entries:
        return
    lake.audit_append(spark, settings, "delivery_log", delivery_log_frame(spark, entries))


def write_quarantine(spark: SparkSession, settings: Settings, feed_id: str, staged: DataFrame | None,
                     provably_new: bool) -> None:
    """Write staged landing quarantine rows, idempotently by (delivery_id, file_name, record_no).

    `provably_new`: the caller knows none of these rows can be in the table yet
    (their deliveries were not in bronze, and quarantine rows are only written
    after their delivery's bronze commit), so a cheaper plain append is enough.
    Otherwise (a delivery recovered after a crash, or one with no bronze rows to
    tell) a MERGE inserts only the rows that are missing.
    """
    lake.ensure_audit(spark, settings, "quarantine")  # the table exists after landing, rows or not
    if staged is None:
        return
    source = staged.select(
        *[F.current_timestamp().alias(f.name) if f.name == "quarantined_at" else F.col(f.name)
          for f in QUARANTINE_SCHEMA.fields]
    )
    if provably_new:
        lake.audit_append(spark, settings, "quarantine", source)
        return
    condition = (f"t.feed_id = '{feed_id}' AND t.stage = 'landing' AND t.delivery_id = s.delivery_id "
                 "AND t.file_name = s.file_name AND t.record_no = s.record_no")
    lake.audit_merge(spark, settings, "quarantine", source, condition)
