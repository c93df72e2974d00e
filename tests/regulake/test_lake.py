"""regulake.lake: read or None, writes that create and register, keyed MERGE, partition overwrite,
retry on commit conflicts, and the audit tables' declared schemas."""

from __future__ import annotations

import logging
import uuid
from datetime import date, datetime
from pathlib import Path

import pytest
from delta.exceptions import ConcurrentAppendException
from delta.tables import DeltaTable
from pyspark.testing import assertDataFrameEqual

from regulake import lake
from regulake.config import Settings
from regulake.stage_state import delta_version

ROWS = "id int, name string, as_of_date date"


@pytest.fixture
def settings(tmp_path: Path, lake_settings: Settings) -> Settings:
    """A lake of this test's own."""
    return lake_settings.with_overrides(**{"lake.root": str(tmp_path / "lake")})


@pytest.fixture
def name() -> str:
    """A table name no other test uses (the catalog is the session's)."""
    return f"t_{uuid.uuid4().hex[:10]}"


def _version(spark, settings, layer, table) -> int | None:
    return delta_version(spark, lake.table_path(settings, layer, table))


def test_read_of_a_missing_table_is_none(spark, settings, name):
    assert not lake.exists(spark, settings, "gold", name)
    assert lake.read(spark, settings, "gold", name) is None


def test_append_creates_partitions_and_registers(spark, settings, name):
    rows = spark.createDataFrame([(1, "a", date(2024, 3, 1)), (2, "b", date(2024, 3, 2))], ROWS)
    lake.append(spark, settings, "gold", name, rows, partition_by=("as_of_date",))

    assert lake.exists(spark, settings, "gold", name)
    assertDataFrameEqual(lake.read(spark, settings, "gold", name), rows)
    assert spark.catalog.tableExists(f"gold.{name}")
    assert spark.table(f"gold.{name}").count() == 2
    detail = DeltaTable.forPath(spark, lake.table_path(settings, "gold", name)).detail().first()
    assert list(detail.partitionColumns) == ["as_of_date"]
    assert _version(spark, settings, "gold", name) == 0  # created by the append itself: one commit

    lake.append(spark, settings, "gold", name, rows.limit(1), partition_by=("as_of_date",))
    assert lake.read(spark, settings, "gold", name).count() == 3


def test_merge_creates_then_is_idempotent(spark, settings, name):
    source = spark.createDataFrame([(1, "a", date(2024, 3, 1)), (2, "b", date(2024, 3, 1))], ROWS)
    on = "t.id = s.id"
    lake.merge(spark, settings, "silver", name, source, on, update=True)  # missing: created from the source
    assert spark.catalog.tableExists(f"silver.{name}")
    assertDataFrameEqual(lake.read(spark, settings, "silver", name), source)

    lake.merge(spark, settings, "silver", name, source, on, update=True)
    assertDataFrameEqual(lake.read(spark, settings, "silver", name), source)

    changed = spark.createDataFrame([(2, "B", date(2024, 3, 1)), (3, "c", date(2024, 3, 1))], ROWS)
    lake.merge(spark, settings, "silver", name, changed, on)  # insert-only: 2 keeps its name
    assert sorted(lake.read(spark, settings, "silver", name).select("id", "name").collect()) == [
        (1, "a"), (2, "b"), (3, "c")]
    lake.merge(spark, settings, "silver", name, changed, on, update=True, update_when="t.name <> s.name")
    assert sorted(lake.read(spark, settings, "silver", name).select("id", "name").collect()) == [
        (1, "a"), (2, "B"), (3, "c")]


def test_merge_with_columns_and_delete_of_unmatched(spark, settings, name):
    lake.append(spark, settings, "gold", name,
                spark.createDataFrame([(1, "a", None), (2, "b", None)], ROWS))
    source = spark.createDataFrame([(1, "A", True), (3, "c", True), (4, "d", False)],
                                   "id int, name string, relinked boolean")
    columns = {"id": "s.id", "name": "s.name", "as_of_date": "CAST(NULL AS DATE)"}
    lake.merge(spark, settings, "gold", name, source, "t.id = s.id", update=True, update_when="s.relinked",
               insert_when="s.relinked", columns=columns, delete_unmatched_when="t.id > 0")
    assert sorted(lake.read(spark, settings, "gold", name).select("id", "name").collect()) == [(1, "A"), (3, "c")]


def test_overwrite_with_replace_where_touches_only_its_partition(spark, settings, name):
    first = spark.createDataFrame([(1, "a", date(2024, 3, 1)), (2, "b", date(2024, 3, 2))], ROWS)
    where = "as_of_date = '2024-03-02'"
    lake.overwrite(spark, settings, "gold", name, first, replace_where=where, partition_by=("as_of_date",))
    assertDataFrameEqual(lake.read(spark, settings, "gold", name), first)  # created: every row

    table_path = Path(lake.table_path(settings, "gold", name))
    kept_files = sorted(p.name for p in (table_path / "as_of_date=2024-03-01").glob("*.parquet"))
    again = spark.createDataFrame([(3, "c", date(2024, 3, 2)), (4, "d", date(2024, 3, 2))], ROWS)
    lake.overwrite(spark, settings, "gold", name, again, replace_where=where, partition_by=("as_of_date",))

    rows = lake.read(spark, settings, "gold", name)
    assert sorted(rows.select("id").collect()) == [(1,), (3,), (4,)]
    assert sorted(p.name for p in (table_path / "as_of_date=2024-03-01").glob("*.parquet")) == kept_files
    removed = (DeltaTable.forPath(spark, str(table_path)).history(1).first().operationMetrics["numRemovedFiles"])
    assert int(removed) == 1  # the 2024-03-02 file only


def test_update_rewrites_matching_rows(spark, settings, name):
    lake.append(spark, settings, "gold", name, spark.createDataFrame([(1, "a", None), (2, "b", None)], ROWS))
    lake.update(spark, settings, "gold", name, {"name": "upper(name)"}, condition="id = 2")
    assert sorted(lake.read(spark, settings, "gold", name).select("id", "name").collect()) == [(1, "a"), (2, "B")]


def test_a_commit_conflict_is_retried(monkeypatch, caplog):
    monkeypatch.setattr(lake, "BACKOFF_SECONDS", 0)
    calls = []

    def commit() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise ConcurrentAppendException("Files were added to the root of the table by a concurrent update")
        return "committed"

    with caplog.at_level(logging.WARNING, logger="regulake.lake"):
        assert lake.with_retry(commit, "gold.x append") == "committed"
    assert len(calls) == 2
    assert "gold.x append: concurrent commit (ConcurrentAppendException), retry 1" in caplog.text


def test_retries_end_and_other_errors_are_not_retried(monkeypatch):
    monkeypatch.setattr(lake, "BACKOFF_SECONDS", 0)
    calls = []

    def always_conflicts():
        calls.append(1)
        raise ConcurrentAppendException("conflict")

    with pytest.raises(ConcurrentAppendException):
        lake.with_retry(always_conflicts, "x")
    assert len(calls) == lake.MAX_ATTEMPTS

    calls.clear()

    def broken():
        calls.append(1)
        raise ValueError("not a conflict")

    with pytest.raises(ValueError):
        lake.with_retry(broken, "x")
    assert len(calls) == 1


def _stage_run(spark, **types):
    columns = {"stage": "string", "run_id": "string", "fingerprint": "string", "finished_at": "timestamp", **types}
    ddl = ", ".join(f"{c} {t}" for c, t in columns.items() if t)
    values = {"string": "x", "timestamp": datetime(2024, 3, 1), "int": 1}
    return spark.createDataFrame([tuple(values[t] for t in columns.values() if t)], ddl)


def test_audit_append_creates_from_the_declared_schema(spark, settings):
    lake.audit_append(spark, settings, "stage_run", _stage_run(spark))
    table = lake.read(spark, settings, "audit", "stage_run")
    assert table.schema.simpleString() == lake.STAGE_RUN_SCHEMA.simpleString()
    assert table.count() == 1
    assert spark.catalog.tableExists("audit.stage_run")

    quarantine = spark.createDataFrame(
        [("f", "20240301", "a.csv", 1, "parse_error", "", "a,b", "landing", datetime(2024, 3, 1), "d1")],
        lake.QUARANTINE_SCHEMA)
    on = "t.feed_id = 'f' AND t.delivery_id = s.delivery_id AND t.file_name = s.file_name AND t.record_no = s.record_no"
    lake.audit_merge(spark, settings, "quarantine", quarantine, on)
    lake.audit_merge(spark, settings, "quarantine", quarantine, on)
    assert lake.read(spark, settings, "audit", "quarantine").count() == 1
    detail = DeltaTable.forPath(spark, lake.table_path(settings, "audit", "quarantine")).detail().first()
    assert list(detail.partitionColumns) == ["feed_id"]


@pytest.mark.parametrize(("types", "message"), [
    ({"fingerprint": "int"}, "audit.stage_run: column fingerprint is int, declared string"),
    ({"fingerprint": None}, "audit.stage_run: column fingerprint (string) is missing"),
    ({"extra": "string"}, "audit.stage_run: column extra is not declared"),
])
def test_audit_rows_that_do_not_fit_name_table_and_column(spark, settings, types, message):
    with pytest.raises(lake.AuditSchemaError, match=message.replace("(", r"\(").replace(")", r"\)")):
        lake.audit_append(spark, settings, "stage_run", _stage_run(spark, **types))
    assert not lake.exists(spark, settings, "audit", "stage_run")  # checked before anything is created


def test_an_undeclared_audit_table_is_refused(spark, settings):
    with pytest.raises(lake.AuditSchemaError, match="audit.scratch is not a declared audit table"):
        lake.audit_append(spark, settings, "scratch", _stage_run(spark))


def test_every_audit_table_is_declared_once():
    assert set(lake.AUDIT_TABLES) == {"delivery_log", "quarantine", "record_copies", "gate_result",
                                      "row_accounting", "stage_run", "linking_run", "pipeline_run",
                                      "query_log", "erasure_log", "export_log"}
    for spec in lake.AUDIT_TABLES.values():
        assert set(spec.partition_by) <= set(spec.schema.fieldNames()), spec.name


def test_a_table_written_by_an_earlier_version_gets_the_new_columns(spark, settings, name):
    """gold.entity_xref of an older lake lacks `_retry_keys`: linking adds it before its MERGE."""
    lake.append(spark, settings, "gold", name,
                spark.createDataFrame([("hotline_12345", "RX1")], "feed_id string, record_key string"))
    newer = spark.createDataFrame([], "feed_id string, record_key string, _retry_keys array<string>")
    lake.add_missing_columns(spark, settings, "gold", name, newer.schema)
    table = lake.read(spark, settings, "gold", name)
    assert table.columns == ["feed_id", "record_key", "_retry_keys"]
    assert table.first()["_retry_keys"] is None
