"""A person's deletion request (PIPL art. 47): erase one resident's RIC and name from every layer.

`regulake erase --ric RIC` (apps/cli.py) runs `erase()`:

1. holds the lake's run lease, so no pipeline run reads or writes meanwhile;
2. per table of conf/erasure.yaml: deletes the rows only about the person, or sets the person's
   columns to null in rows also about something else (the enterprise keeps its registration,
   the court case its number), matching the RIC as delivered (normalised), the keyed
   `person_id`, or the RIC inside free text (quarantined raw records, logged statements);
3. scans every string (and nested) column of every Delta table for the RIC: what remains is
   reported and the erasure fails, so a table nobody declared cannot keep the data silently;
4. VACUUMs the changed tables at 0 hours: the files of earlier versions, which time travel
   would still read, are deleted; those tables lose their time travel before the erasure;
5. appends `audit.erasure_log` (the person_id and counts, never the RIC).

The derived layers follow from the sources: a later run rebuilds gold from the redacted silver,
and bronze no longer holds what a replay could bring back. The delivery folders in the landing
zone are the departments' originals and outside the lake: their removal is the operator's step
(docs/OPERATIONS.md, "Deletion requests").
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from functools import reduce
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field

from regulake import lake
from regulake.catalog import discover_tables
from regulake.config import StrictModel, check_conf, conf_file, load_yaml
from regulake.identifiers import compact_identifier, is_valid_ric
from regulake.lease import Lease
from regulake.person_id import person_id, person_id_salt
from regulake.spark import temporary_conf

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

    from regulake.config import Settings

log = logging.getLogger(__name__)
CONF_NAME = "erasure.yaml"


class _Match(StrictModel):
    ric: list[str] = Field(default_factory=list)
    person_id: list[str] = Field(default_factory=list)
    raw: list[str] = Field(default_factory=list)


class _Rule(StrictModel):
    match: _Match
    redact: list[str] = Field(default_factory=list)
    delete: bool = False


class _ErasureFile(StrictModel):
    version: str
    tables: dict[str, _Rule]


@dataclass(frozen=True)
class TableErasure:
    layer: str
    table: str
    action: str  # delete | redact | none (no row matched)
    rows: int


@dataclass
class ErasureReport:
    person_id: str
    tables: list[TableErasure] = field(default_factory=list)
    remaining: dict[str, int] = field(default_factory=dict)  # "layer.table" -> rows still holding the RIC
    dry_run: bool = False

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)


class ErasureError(RuntimeError):
    """The RIC is still somewhere in the lake after the declared tables were erased."""


def load_rules(path: Path | None = None) -> dict[tuple[str, str], _Rule]:
    path = Path(path) if path else conf_file(CONF_NAME)
    conf = check_conf(_ErasureFile, load_yaml(path), path)
    rules = {}
    for name, rule in conf.tables.items():
        layer, _, table = name.partition(".")
        if not table or not (rule.delete or rule.redact):
            raise ValueError(f"{path}: {name} needs layer.table and either delete: true or redact columns")
        rules[(layer, table)] = rule
    return rules


def normalized_ric(ric: str) -> str:
    value = compact_identifier(ric) or ""
    if not is_valid_ric(value):
        raise ValueError(f"{ric!r} is not a valid resident identity card number (GB 11643: 18 characters, "
                         "check character)")
    return value


def match_condition(rule: _Rule, columns: set[str], ric: str, pid: str) -> Column | None:
    """Rows of a table that hold the person (pure): None when the table has none of the columns."""
    from pyspark.sql import functions as F

    from regulake.normalize import compact_code_col

    tests = ([compact_code_col(F.col(c)) == F.lit(ric) for c in rule.match.ric if c in columns]
             + [F.col(c) == F.lit(pid) for c in rule.match.person_id if c in columns]
             + [F.instr(F.upper(F.col(c).cast("string")), ric) > 0 for c in rule.match.raw if c in columns])
    return F.coalesce(reduce(lambda a, b: a | b, tests), F.lit(False)) if tests else None


def holding_rows(frame: DataFrame, ric: str) -> DataFrame:
    """Rows with the RIC in any string column, or inside any array, map or struct (pure)."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    tests = []
    for column in frame.schema.fields:
        ref = F.col(f"`{column.name}`")
        if isinstance(column.dataType, T.StringType):
            tests.append(F.instr(F.upper(ref), ric) > 0)
        elif isinstance(column.dataType, (T.ArrayType, T.MapType, T.StructType)):
            tests.append(F.instr(F.upper(F.to_json(ref)), ric) > 0)
    if not tests:
        return frame.limit(0)
    return frame.where(F.coalesce(reduce(lambda a, b: a | b, tests), F.lit(False)))


def _apply(spark: SparkSession, settings: Settings, layer: str, table: str, rule: _Rule, condition: Column) -> None:
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    target = DeltaTable.forPath(spark, lake.table_path(settings, layer, table))
    if rule.delete:
        lake.with_retry(lambda: target.delete(condition), f"{layer}.{table} erase")
        return
    schema = target.toDF().schema
    assignments = {c: F.lit(None).cast(schema[c].dataType) for c in rule.redact if c in schema.fieldNames()}
    lake.with_retry(lambda: target.update(condition, assignments), f"{layer}.{table} redact")


def _vacuum_now(spark: SparkSession, settings: Settings, layer: str, table: str) -> None:
    """Delete the files of every earlier version: time travel would otherwise still read the person."""
    path = lake.table_path(settings, layer, table)
    with temporary_conf(spark, {"spark.databricks.delta.retentionDurationCheck.enabled": "false"}):
        spark.sql(f"VACUUM delta.`{path}` RETAIN 0 HOURS")


def scan(spark: SparkSession, settings: Settings, ric: str) -> dict[str, int]:
    """Every Delta table of the lake: how many rows still hold the RIC (tables with none left out)."""
    remaining = {}
    for layer, tables in sorted(discover_tables(settings.lake_root).items()):
        for table in tables:
            frame = lake.read(spark, settings, layer, table)
            if frame is None:
                continue
            found = holding_rows(frame, ric).count()
            if found:
                remaining[f"{layer}.{table}"] = found
    return remaining


def erase(spark: SparkSession, settings: Settings, ric: str, *, dry_run: bool = False,
          rules: dict[tuple[str, str], _Rule] | None = None) -> ErasureReport:
    """Erase the person with this RIC from the lake (see the module docstring); ErasureError if any remains."""
    ric = normalized_ric(ric)
    pid = person_id(person_id_salt(settings), f"ric:{ric}")
    rules = load_rules() if rules is None else rules
    report = ErasureReport(person_id=pid, dry_run=dry_run)
    run_id = f"erasure-{uuid.uuid4().hex[:12]}"
    lease = Lease.for_settings(settings)
    lease.acquire(run_id, pid_bound=True)
    try:
        changed: list[tuple[str, str]] = []
        for (layer, table), rule in rules.items():
            frame = lake.read(spark, settings, layer, table)
            condition = None if frame is None else match_condition(rule, set(frame.columns), ric, pid)
            if condition is None:
                continue
            rows = frame.where(condition).count()
            action = ("delete" if rule.delete else "redact") if rows else "none"
            if rows and not dry_run:
                _apply(spark, settings, layer, table, rule, condition)
                changed.append((layer, table))
            report.tables.append(TableErasure(layer, table, action, rows))
            log.info("erasure %s.%s: %d rows %s", layer, table, rows, action if not dry_run else f"to {action}")
        report.remaining = scan(spark, settings, ric)
        if dry_run:
            return report
        for layer, table in changed:
            _vacuum_now(spark, settings, layer, table)
        now = datetime.now()
        rows = [(pid, t.layer, t.table, t.action, t.rows, now, run_id) for t in report.tables if t.rows]
        if rows:
            lake.audit_append(spark, settings, "erasure_log", spark.createDataFrame(rows, lake.ERASURE_LOG_SCHEMA))
    finally:
        lease.release(run_id)
    if report.remaining:
        raise ErasureError("the RIC is still in " + ", ".join(f"{t} ({n} rows)" for t, n in report.remaining.items())
                           + f": declare those tables in conf/{CONF_NAME} and run the erasure again")
    return report
