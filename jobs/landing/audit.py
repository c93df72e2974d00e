"""The audit tables landing writes: `audit.delivery_log` and `audit.quarantine`.

A retried or re-run task never adds a row twice: quarantine rows that may
already be there are written with a MERGE keyed on (delivery_id, file_name,
record_no), and the delivery log only receives entries the run did not find
in it. Both tables are
partitioned by `feed_id` and the MERGE names its feed in the condition: the
landing tasks of different feeds run in parallel, and Delta only lets
concurrent writes through when they provably touch different partitions. A
conflict that still happens is retried.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from regulake.catalog import register_table
from regulake.config import Settings

log = logging.getLogger(__name__)
_T = TypeVar("_T")

DELIVERY_LOG_SCHEMA = T.StructType([
    T.StructField("feed_id", T.StringType()),
    T.StructField("batch_date", T.StringType()),
    T.StructField("status", T.StringType()),
    T.StructField("reason", T.StringType()),
    T.StructField("manifest_rows", T.LongType()),
    T.StructField("processed_at", T.TimestampType()),
    T.StructField("delivery_id", T.StringType()),
    T.StructField("run_id", T.StringType()),
    T.StructField("location", T.StringType()),
    T.StructField("mode", T.StringType()),
    T.StructField("files", T.IntegerType()),
    T.StructField("rows_landed", T.LongType()),
    T.StructField("rows_quarantined", T.LongType()),
])

QUARANTINE_SCHEMA = T.StructType([
    T.StructField("feed_id", T.StringType()),
    T.StructField("batch_date", T.StringType()),
    T.StructField("file_name", T.StringType()),
    T.StructField("record_no", T.IntegerType()),
    T.StructField("reason_code", T.StringType()),
    T.StructField("reason_detail", T.StringType()),
    T.StructField("raw_record", T.StringType()),
    T.StructField("stage", T.StringType()),
    T.StructField("quarantined_at", T.TimestampType()),
    T.StructField("delivery_id", T.StringType()),
])

MAX_ATTEMPTS = 5
_ENSURED: set[str] = set()  # tables this process has already created or checked


def _concurrency_errors() -> tuple[type[BaseException], ...]:
    from delta import exceptions as ex

    return (ex.ConcurrentAppendException, ex.ConcurrentDeleteReadException,
            ex.ConcurrentDeleteDeleteException, ex.ConcurrentTransactionException,
            ex.ConcurrentWriteException, ex.MetadataChangedException, ex.ProtocolChangedException,
            ex.DeltaConcurrentModificationException)


def with_retry(action: Callable[[], _T], what: str) -> _T:
    """Run a Delta write, retrying when another task's commit conflicted with it."""
    errors = _concurrency_errors()
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            return action()
        except errors as error:
            if attempt == MAX_ATTEMPTS:
                raise
            log.warning("%s: concurrent commit (%s), retry %d", what, type(error).__name__, attempt)
            time.sleep(0.5 * attempt)
    raise AssertionError("unreachable")


def ensure_table(spark: SparkSession, settings: Settings, table: str, schema: T.StructType,
                 partition_by: Sequence[str] = ("feed_id",)) -> str:
    """Create `audit.<table>` if needed (or add columns it lacks); returns its path."""
    from delta.tables import DeltaTable

    path = settings.table_path("audit", table)
    if path in _ENSURED:
        return path

    def create() -> None:
        if DeltaTable.isDeltaTable(spark, path):
            present = {f.name for f in spark.read.format("delta").load(path).schema.fields}
            missing = [f for f in schema.fields if f.name not in present]
            if missing:  # e.g. another stage created the table first with fewer columns
                columns = ", ".join(f"`{f.name}` {f.dataType.simpleString()}" for f in missing)
                spark.sql(f"ALTER TABLE delta.`{path}` ADD COLUMNS ({columns})")
            return
        try:
            (DeltaTable.createIfNotExists(spark).location(path).addColumns(schema)
             .partitionedBy(*partition_by).execute())
        except Exception:
            # Landing tasks of several feeds start together: another one may have just created it.
            if not DeltaTable.isDeltaTable(spark, path):
                raise

    with_retry(create, f"create audit.{table}")
    register_table(spark, settings.lake_root, "audit", table)
    _ENSURED.add(path)
    return path


def read_delivery_log(spark: SparkSession, settings: Settings, feed_id: str) -> dict[tuple[str, str], str]:
    """{(delivery_id, status): location} of everything already logged for the feed."""
    from delta.tables import DeltaTable

    path = settings.table_path("audit", "delivery_log")
    if not DeltaTable.isDeltaTable(spark, path):
        return {}
    rows = (spark.read.format("delta").load(path).where(F.col("feed_id") == feed_id)
            .select("delivery_id", "status", "location").collect())
    return {(row.delivery_id, row.status): row.location for row in rows}


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
    path = ensure_table(spark, settings, "delivery_log", DELIVERY_LOG_SCHEMA)
    frame = delivery_log_frame(spark, entries)
    with_retry(lambda: frame.write.format("delta").mode("append").save(path),
               f"delivery_log append ({feed_id})")


def write_quarantine(spark: SparkSession, settings: Settings, feed_id: str, staged: DataFrame | None,
                     provably_new: bool) -> None:
    """Write staged landing quarantine rows, idempotently by (delivery_id, file_name, record_no).

    `provably_new`: the caller knows none of these rows can be in the table yet
    (their deliveries were not in bronze, and quarantine rows are only written
    after their delivery's bronze commit), so a cheaper plain append is enough.
    Otherwise (a delivery recovered after a crash, or one with no bronze rows to
    tell) a MERGE inserts only the rows that are missing.
    """
    from delta.tables import DeltaTable

    path = ensure_table(spark, settings, "quarantine", QUARANTINE_SCHEMA)
    if staged is None:
        return
    source = staged.select(
        *[F.current_timestamp().alias(f.name) if f.name == "quarantined_at" else F.col(f.name)
          for f in QUARANTINE_SCHEMA.fields]
    )
    if provably_new:
        with_retry(lambda: source.write.format("delta").mode("append").save(path),
                   f"quarantine append ({feed_id})")
        return
    condition = (f"t.feed_id = '{feed_id}' AND t.stage = 'landing' AND t.delivery_id = s.delivery_id "
                 "AND t.file_name = s.file_name AND t.record_no = s.record_no")

    def merge() -> None:
        (DeltaTable.forPath(spark, path).alias("t").merge(source.alias("s"), condition)
         .whenNotMatchedInsertAll().execute())

    with_retry(merge, f"quarantine merge ({feed_id})")
