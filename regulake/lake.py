"""The one way to touch a Delta table of the lake: read it, write it, and the audit tables' schemas.

Every table lives at `<lake_root>/<layer>/<table>` (`Settings.table_path`) and is
registered as `<layer>.<table>` in this process's catalog (`regulake.catalog`). A
write here is one step:

* it creates the table when it is missing (a first append, overwrite or MERGE
  creates it, partitioned by `partition_by`; an audit table is created from its
  declared schema);
* it retries a commit that conflicted with another writer's (`with_retry`: the
  landing and silver tasks of different feeds write the same audit tables at once);
* it registers the table if this process's catalog lacks it.

The `audit.*` tables have one declared schema each (`AUDIT_TABLES`). Every write to
the `audit` layer goes through it: the table is created from it (or gains the
declared columns it lacks), and the rows must have exactly its columns and types,
else `AuditSchemaError` names the table and the column.

Deciding *whether* to write stays with the callers: a Delta write commits a version
even when it changes no row, so a rerun that must change nothing keeps its guards
(standing holds, fingerprints, `stage_state.unchanged`) and does not call here.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from pyspark.sql import functions as F
from pyspark.sql import types as T

from regulake import lineage
from regulake.catalog import register_table

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, DataFrameWriter, SparkSession

    from regulake.config import Settings

log = logging.getLogger(__name__)
_T = TypeVar("_T")

AUDIT = "audit"
MAX_ATTEMPTS = 5
BACKOFF_SECONDS = 0.5  # times the attempt number


# --- where, whether, read ----------------------------------------------------------------


def table_path(settings: Settings, layer: str, table: str) -> str:
    """`<lake_root>/<layer>/<table>`."""
    return settings.table_path(layer, table)


def exists(spark: SparkSession, settings: Settings, layer: str, table: str) -> bool:
    """Whether `<layer>.<table>` is a Delta table on disk (the catalog is not asked)."""
    return is_delta_table(table_path(settings, layer, table))


def is_delta_table(path: str) -> bool:
    """Whether `path` holds a Delta table: its `_delta_log` has a commit or a checkpoint.

    Read through the storage layer, not Delta's Python API: that API needs a JVM in this
    process, which a task talking to Spark Connect does not have."""
    from regulake import storage

    return any(entry.name.endswith((".json", ".parquet")) or entry.name == "_last_checkpoint"
               for entry in storage.list_files(storage.join(path, "_delta_log")))


def read(spark: SparkSession, settings: Settings, layer: str, table: str) -> DataFrame | None:
    """The table's rows, or None when it does not exist yet."""
    return load(spark, settings, layer, table) if exists(spark, settings, layer, table) else None


def load(spark: SparkSession, settings: Settings, layer: str, table: str) -> DataFrame:
    """The rows of a table that must exist (Delta's error names the path when it does not)."""
    lineage.read(layer, table)
    return spark.read.format("delta").load(table_path(settings, layer, table))


def register(spark: SparkSession, settings: Settings, layer: str, table: str) -> None:
    """Make `<layer>.<table>` known to this process's catalog (nothing when it already is)."""
    if not spark.catalog.tableExists(f"{layer}.{table}"):
        register_table(spark, settings.lake_root, layer, table)


# --- retry ---------------------------------------------------------------------------------


def concurrency_errors() -> tuple[type[BaseException], ...]:
    """Delta's commit conflicts: the commit did not happen, running the write again is safe."""
    from delta.exceptions import base as ex

    from regulake.spark import register_remote_errors

    register_remote_errors()

    return (ex.ConcurrentAppendException, ex.ConcurrentDeleteReadException,
            ex.ConcurrentDeleteDeleteException, ex.ConcurrentTransactionException,
            ex.ConcurrentWriteException, ex.MetadataChangedException, ex.ProtocolChangedException,
            ex.DeltaConcurrentModificationException)


# The same conflicts by error class or name, for errors that arrive wrapped (Spark Connect, py4j).
_CONFLICT = re.compile(r"DELTA_(CONCURRENT_[A-Z_]+|METADATA_CHANGED|PROTOCOL_CHANGED)\b|Concurrent\w*Exception"
                       r"|MetadataChangedException|ProtocolChangedException")


def is_conflict(error: BaseException) -> bool:
    """A Delta commit conflict (another writer committed first), as opposed to any other failure."""
    return isinstance(error, concurrency_errors()) or bool(_CONFLICT.search(str(error)))


def with_retry(action: Callable[[], _T], what: str, attempts: int = MAX_ATTEMPTS,
               backoff_seconds: float | None = None, sleep: Callable[[float], None] = time.sleep) -> _T:
    """Run a Delta write, again (after a pause growing with each attempt) when another commit conflicted
    with it; the one place that retries conflicts. Any other error, or the last conflict, is raised."""
    backoff = BACKOFF_SECONDS if backoff_seconds is None else backoff_seconds
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except Exception as error:
            if attempt == attempts or not is_conflict(error):
                raise
            log.warning("%s: concurrent commit (%s), retry %d of %d", what, type(error).__name__, attempt, attempts - 1)
            sleep(backoff * attempt)
    raise AssertionError("unreachable")


# --- writes --------------------------------------------------------------------------------


def _writer(frame: DataFrame, mode: str, partition_by: Sequence[str],
            options: Mapping[str, str] | None) -> DataFrameWriter:
    writer = frame.write.format("delta").mode(mode)
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    for key, value in (options or {}).items():
        writer = writer.option(key, value)
    return writer


def _prepared(spark: SparkSession, settings: Settings, layer: str, table: str, frame: DataFrame) -> DataFrame:
    """An audit table exists (from its declared schema) and `frame` has exactly its columns."""
    if layer != AUDIT:
        return frame
    rows = audit_rows(table, frame)  # checked before anything is created
    ensure_audit(spark, settings, table)
    return rows


def append(spark: SparkSession, settings: Settings, layer: str, table: str, frame: DataFrame, *,
           partition_by: Sequence[str] = (), options: Mapping[str, str] | None = None) -> None:
    """Append `frame` (a missing table is created, partitioned by `partition_by`)."""
    frame = _prepared(spark, settings, layer, table, frame)
    path = table_path(settings, layer, table)
    with_retry(lambda: _writer(frame, "append", partition_by, options).save(path), f"{layer}.{table} append")
    lineage.wrote(layer, table)
    register(spark, settings, layer, table)


def overwrite(spark: SparkSession, settings: Settings, layer: str, table: str, frame: DataFrame, *,
              replace_where: str | None = None, partition_by: Sequence[str] = (),
              options: Mapping[str, str] | None = None) -> None:
    """Replace the table's rows with `frame`; with `replace_where` (e.g. one partition) only the rows
    matching it. A missing table is created from `frame`, partitioned by `partition_by`."""
    frame = _prepared(spark, settings, layer, table, frame)
    path = table_path(settings, layer, table)

    def write() -> None:
        chosen = dict(options or {})
        if replace_where is not None and exists(spark, settings, layer, table):
            chosen["replaceWhere"] = replace_where
        _writer(frame, "overwrite", partition_by, chosen).save(path)

    with_retry(write, f"{layer}.{table} overwrite" + (f" where {replace_where}" if replace_where else ""))
    lineage.wrote(layer, table)
    register(spark, settings, layer, table)


def merge(spark: SparkSession, settings: Settings, layer: str, table: str, source: DataFrame, on: str, *,
          update: bool = False, update_when: str | None = None, insert: bool = True,
          insert_when: str | None = None, columns: Mapping[str, str] | None = None,
          delete_unmatched_when: str | None = None, partition_by: Sequence[str] = ()) -> None:
    """MERGE `source` (alias `s`) into the table (alias `t`) on the condition `on`.

    update: matched rows take the source's values (all columns, or `columns`
    {target column: expression}), only where `update_when` holds; insert: unmatched
    source rows are inserted (all columns, or `columns`), only where `insert_when`
    holds; delete_unmatched_when: target rows that no source row matches are deleted
    where this condition holds. A missing table is created holding what the MERGE
    would insert into an empty one (partitioned by `partition_by`).
    """
    source = _prepared(spark, settings, layer, table, source)
    path = table_path(settings, layer, table)

    def run() -> bool:
        if not is_delta_table(path):
            if not insert:
                return False
            rows = source.alias("s")
            if insert_when is not None:
                rows = rows.where(insert_when)
            if columns is not None:
                rows = rows.select(*[F.expr(value).alias(name) for name, value in columns.items()])
            _writer(rows, "append", partition_by, None).save(path)
            return True
        clauses = []
        if update:
            when = f" AND ({update_when})" if update_when is not None else ""
            assignments = (", ".join(f"t.`{name}` = {value}" for name, value in columns.items())
                           if columns is not None else "*")
            clauses.append(f"WHEN MATCHED{when} THEN UPDATE SET {assignments}")
        if insert:
            when = f" AND ({insert_when})" if insert_when is not None else ""
            values = ("(" + ", ".join(f"`{name}`" for name in columns) + ") VALUES ("
                      + ", ".join(columns.values()) + ")") if columns is not None else "*"
            clauses.append(f"WHEN NOT MATCHED{when} THEN INSERT {values}")
        if delete_unmatched_when is not None:
            clauses.append(f"WHEN NOT MATCHED BY SOURCE AND ({delete_unmatched_when}) THEN DELETE")
        with _temp_view(source) as view:
            spark.sql(f"MERGE INTO delta.`{path}` AS t USING `{view}` AS s ON {on} " + " ".join(clauses))
        return True

    if with_retry(run, f"{layer}.{table} merge"):
        lineage.wrote(layer, table)
        register(spark, settings, layer, table)


@contextmanager
def _temp_view(frame: DataFrame) -> Iterator[str]:
    """`frame` as a session temporary view with a name of its own (dropped afterwards)."""
    name = f"_regulake_source_{uuid.uuid4().hex}"
    frame.createOrReplaceTempView(name)
    try:
        yield name
    finally:
        frame.sparkSession.catalog.dropTempView(name)


def update(spark: SparkSession, settings: Settings, layer: str, table: str, set: Mapping[str, str],
           condition: str | None = None) -> None:
    """UPDATE the rows matching `condition` (all rows without one): {column: new value}, SQL expressions."""
    path = table_path(settings, layer, table)
    assignments = ", ".join(f"`{name}` = {value}" for name, value in set.items())
    where = f" WHERE {condition}" if condition is not None else ""
    with_retry(lambda: spark.sql(f"UPDATE delta.`{path}` SET {assignments}{where}"), f"{layer}.{table} update")
    lineage.wrote(layer, table)


def add_missing_columns(spark: SparkSession, settings: Settings, layer: str, table: str,
                        schema: T.StructType) -> None:
    """ALTER TABLE ADD COLUMNS for the columns of `schema` the table lacks (a table written by an
    earlier version of a job; schema auto-merge is off on purpose, conf/regulake.yaml)."""
    _add_missing_columns(spark, table_path(settings, layer, table), schema)


def _add_missing_columns(spark: SparkSession, path: str, schema: T.StructType) -> None:
    present = set(spark.read.format("delta").load(path).columns)
    missing = [f for f in schema.fields if f.name not in present]
    if missing:
        columns = ", ".join(f"`{f.name}` {f.dataType.simpleString()}" for f in missing)
        spark.sql(f"ALTER TABLE delta.`{path}` ADD COLUMNS ({columns})")


# --- the audit tables ----------------------------------------------------------------------


_S, _I, _L, _D, _B, _TS = (T.StringType(), T.IntegerType(), T.LongType(), T.DoubleType(), T.BooleanType(),
                           T.TimestampType())


def _schema(*fields: tuple[str, T.DataType]) -> T.StructType:
    return T.StructType([T.StructField(name, kind) for name, kind in fields])


DELIVERY_LOG_SCHEMA = _schema(
    ("feed_id", _S), ("batch_date", _S), ("status", _S), ("reason", _S), ("manifest_rows", _L),
    ("processed_at", _TS), ("delivery_id", _S), ("run_id", _S), ("location", _S), ("mode", _S), ("files", _I),
    ("rows_landed", _L), ("rows_quarantined", _L))
QUARANTINE_SCHEMA = _schema(
    ("feed_id", _S), ("batch_date", _S), ("file_name", _S), ("record_no", _I), ("reason_code", _S),
    ("reason_detail", _S), ("raw_record", _S), ("stage", _S), ("quarantined_at", _TS), ("delivery_id", _S))
RECORD_COPIES_SCHEMA = _schema(
    ("feed_id", _S), ("record_key", _S), ("content_hash", _S), ("batch_date", _S), ("file_name", _S),
    ("record_no", _I), ("delivery_id", _S))
GATE_RESULT_SCHEMA = _schema(
    ("feed_id", _S), ("batch_date", _S), ("delivery_id", _S), ("mode", _S), ("run_id", _S), ("outcome", _S),
    ("rows", _L), ("rows_quarantined", _L), ("quarantine_share", _D), ("tolerance", _D),
    ("failing_expectations", T.ArrayType(_S)), ("sample_records", T.ArrayType(_S)), ("data_docs_path", _S),
    ("config_digest", _S), ("evaluated_at", _TS))
ROW_ACCOUNTING_SCHEMA = _schema(
    ("feed_id", _S), ("batch_date", _S), ("delivery_id", _S), ("manifest_rows", _L), ("rows_in", _L),
    ("rows_quarantined", _L), ("rows_quarantined_landing", _L), ("rows_quarantined_silver", _L),
    ("rows_duplicate", _L), ("rows_accepted", _L), ("reconciled", _B), ("accounted_at", _TS))
STAGE_RUN_SCHEMA = _schema(("stage", _S), ("run_id", _S), ("fingerprint", _S), ("finished_at", _TS))
LINKING_RUN_SCHEMA = _schema(
    ("run_id", _S), ("enterprise_watermark", _TS), ("enterprises", _L), ("new_enterprises", _L), ("mentions", _L),
    ("linked_this_run", _L), ("retried_unlinked", _L), ("name_mentions", _L), ("candidate_pairs", _L),
    ("id_links", _L), ("name_links", _L), ("by_method", T.MapType(_S, _L)), ("seconds", _D),
    ("finished_at", _TS), ("enterprise_promotion_seq", _L))
PIPELINE_RUN_SCHEMA = _schema(("run_id", _S), ("state", _S), ("landing", _S), ("as_of", _S), ("finished_at", _TS))
QUERY_LOG_SCHEMA = _schema(
    ("user_name", _S), ("role", _S), ("started_at", _TS), ("finished_at", _TS), ("statement", _S),
    ("tables_read", T.ArrayType(_S)), ("outcome", _S), ("reason", _S), ("rows_returned", _L))
EXPORT_LOG_SCHEMA = _schema(
    ("subscriber", _S), ("feed_id", _S), ("batch_date", _S), ("mode", _S), ("source_table", _S),
    ("from_version", _L), ("to_version", _L), ("rows", _L), ("location", _S), ("run_id", _S), ("exported_at", _TS))
ERASURE_LOG_SCHEMA = _schema(
    ("person_id", _S), ("layer", _S), ("table_name", _S), ("action", _S), ("rows", _L), ("erased_at", _TS),
    ("erasure_id", _S))


@dataclass(frozen=True)
class AuditTable:
    """One `audit.<name>` table: its columns and partitioning."""

    name: str
    schema: T.StructType
    partition_by: tuple[str, ...] = ("feed_id",)
    writer: str = ""  # who writes it


AUDIT_TABLES: dict[str, AuditTable] = {t.name: t for t in (
    AuditTable("delivery_log", DELIVERY_LOG_SCHEMA, writer="landing: every decision about a delivery"),
    AuditTable("quarantine", QUARANTINE_SCHEMA, writer="landing (parse errors) and silver (rule failures)"),
    AuditTable("record_copies", RECORD_COPIES_SCHEMA, writer="silver: every accepted copy of a record"),
    AuditTable("gate_result", GATE_RESULT_SCHEMA, writer="silver: the gate's verdict per delivery"),
    AuditTable("row_accounting", ROW_ACCOUNTING_SCHEMA, writer="silver: rows in and what became of them"),
    AuditTable("stage_run", STAGE_RUN_SCHEMA, (), writer="regulake.stage_state: input fingerprints"),
    AuditTable("linking_run", LINKING_RUN_SCHEMA, (), writer="linking: a run's figures and watermark"),
    AuditTable("pipeline_run", PIPELINE_RUN_SCHEMA, (), writer="publish: one row per DAG run"),
    AuditTable("query_log", QUERY_LOG_SCHEMA, (), writer="the SQL endpoint: every statement and refused login"),
    AuditTable("erasure_log", ERASURE_LOG_SCHEMA, (), writer="regulake erase: a person's deletion request"),
    AuditTable("export_log", EXPORT_LOG_SCHEMA, (), writer="export: every outbound delivery (jobs/export)"),
)}


class AuditSchemaError(ValueError):
    """Rows that do not fit an audit table's declared schema."""


def audit_table(table: str) -> AuditTable:
    try:
        return AUDIT_TABLES[table]
    except KeyError:
        raise AuditSchemaError(f"audit.{table} is not a declared audit table (regulake.lake.AUDIT_TABLES: "
                               f"{', '.join(sorted(AUDIT_TABLES))})") from None


def audit_rows(table: str, frame: DataFrame) -> DataFrame:
    """`frame` as rows of `audit.<table>` (its declared columns, in order); AuditSchemaError naming
    the table and the column when a declared column is missing, has another type, or is not declared."""
    declared = audit_table(table).schema
    actual = {f.name: f.dataType for f in frame.schema.fields}
    for field in declared.fields:
        if field.name not in actual:
            raise AuditSchemaError(f"audit.{table}: column {field.name} ({field.dataType.simpleString()}) "
                                   "is missing from the rows")
        if actual[field.name].simpleString() != field.dataType.simpleString():
            raise AuditSchemaError(f"audit.{table}: column {field.name} is {actual[field.name].simpleString()}, "
                                   f"declared {field.dataType.simpleString()}")
    undeclared = [name for name in actual if name not in declared.fieldNames()]
    if undeclared:
        raise AuditSchemaError(f"audit.{table}: column {undeclared[0]} is not declared "
                               f"(declared: {', '.join(declared.fieldNames())})")
    return frame.select(*[F.col(f"`{name}`") for name in declared.fieldNames()])


_ENSURED: set[str] = set()  # audit tables this process has created or checked


def ensure_audit(spark: SparkSession, settings: Settings, table: str) -> str:
    """Create `audit.<table>` from its declared schema if needed, or add declared columns it lacks
    (e.g. a lake written by an earlier version); registered. Once per process and table; returns its path."""
    spec = audit_table(table)
    path = table_path(settings, AUDIT, table)
    if path in _ENSURED:
        return path

    def create() -> None:
        if is_delta_table(path):
            _add_missing_columns(spark, path, spec.schema)
            return
        columns = ", ".join(f"`{f.name}` {f.dataType.simpleString()}" for f in spec.schema.fields)
        partitioned = (" PARTITIONED BY (" + ", ".join(f"`{c}`" for c in spec.partition_by) + ")"
                       if spec.partition_by else "")
        try:
            spark.sql(f"CREATE TABLE IF NOT EXISTS delta.`{path}` ({columns}) USING DELTA{partitioned}")
        except Exception:
            # Tasks of several feeds start together: another one may have just created it.
            if not is_delta_table(path):
                raise

    with_retry(create, f"create audit.{table}")
    register(spark, settings, AUDIT, table)
    _ENSURED.add(path)
    return path


def audit_append(spark: SparkSession, settings: Settings, table: str, rows: DataFrame) -> None:
    """Append rows to `audit.<table>`, checked against its declared schema."""
    append(spark, settings, AUDIT, table, rows)


def audit_merge(spark: SparkSession, settings: Settings, table: str, rows: DataFrame, on: str, *,
                update: bool = False) -> None:
    """Insert the rows of `audit.<table>` that `on` (t = table, s = rows) finds no match for; with
    `update` matched rows take the new values. Checked against the declared schema."""
    merge(spark, settings, AUDIT, table, rows, on, update=update)
