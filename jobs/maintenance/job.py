"""Weekly Delta table maintenance: retention properties, OPTIMIZE, file statistics, VACUUM.

For every Delta table under `<lake_root>/<layer>/` of the configured layers (`maintenance:` in
conf/regulake.yaml; views are not Delta tables and are never touched), in this order:

1. table properties: `delta.deletedFileRetentionDuration` = `vacuum_retain_hours` and
   `delta.logRetentionDuration` = `log_retention_hours`, so time travel really reaches back the
   whole audit window, plus the configured `table_properties`. Set only when they differ (a
   metadata commit), and a longer retention already on a table is never lowered.
2. OPTIMIZE: bin-packing compaction of small files, or `ZORDER BY` for the tables listed under
   `zorder` (skipped when nothing but maintenance committed since the last Z-ordering). A table
   with nothing to compact gets no commit. Rows are unchanged: OPTIMIZE commits `dataChange=false`.
3. statistics: when some data files were written without Delta's per-file min/max/null counts
   (what data skipping uses), they are recomputed for the table. Spark's `ANALYZE TABLE ...
   COMPUTE STATISTICS` fails on Delta tables in Spark 4.1 + Delta 4.4 ("not supported for v2
   tables"), Delta OSS has no `COMPUTE DELTA STATISTICS`, and the in-memory catalog would forget
   catalog statistics anyway; so this uses Delta's own `StatisticsCollection.recompute` (an
   internal API: when a Delta upgrade removes it, the step is skipped with a warning).
4. VACUUM ... RETAIN max(vacuum_retain_hours, the table's deletedFileRetentionDuration) HOURS,
   after a DRY RUN that lists the files (and is all a dry run does). Delta 4.4's VACUUM goes by
   the table's `delta.deletedFileRetentionDuration` (it ignores RETAIN other than 0 unless told
   otherwise), so VACUUM runs only once that property holds at least the configured hours (set
   in step 1; if setting it was skipped, so is VACUUM). Delta's retention check
   (`spark.databricks.delta.retentionDurationCheck.enabled`) is never disabled: with it off this
   job refuses to run.

Safe beside the daily DAG (a different DAG, so `max_active_runs` does not keep them apart):

* Every change is a Delta commit with optimistic concurrency. A concurrent write is either
  invisible to OPTIMIZE (blind appends never conflict with it) or one of the two commits fails
  with a conflict and nothing of it is applied: here it is retried `conflict_retries` times
  (re-planned on the new snapshot) and then skipped for that table with a warning, never failing
  the run; in the daily DAG the failed task is retried by Airflow and its stages are idempotent.
* OPTIMIZE and the statistics step rewrite files or stats without changing rows; readers keep
  reading their snapshot, whose files stay on disk.
* VACUUM deletes only files that no version of the last `vacuum_retain_hours` (720 h) needs and
  untracked files older than that. A daily run takes minutes (hours at province scale), so a
  file that an unfinished write just created or a running reader still reads is never that old.
* Stages that skip on unchanged inputs (regulake/stage_state.py) fingerprint Delta versions; a
  compaction is a new version, so they rebuild once after it (same rows). VACUUM adds no versions
  (`log_vacuum: false`), and a rerun with nothing to do commits nothing.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from regulake import lake
from regulake.catalog import discover_tables
from regulake.spark import temporary_conf
from regulake.stage import StageContext

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from regulake.config import MaintenanceConfig, Settings

log = logging.getLogger(__name__)

T = TypeVar("T")

LOG_RETENTION = "delta.logRetentionDuration"
FILE_RETENTION = "delta.deletedFileRetentionDuration"
# What Delta uses when a table does not set them.
DELTA_DEFAULT_HOURS = {LOG_RETENTION: 30 * 24, FILE_RETENTION: 7 * 24}
RETENTION_CHECK = "spark.databricks.delta.retentionDurationCheck.enabled"
# Delta 4.4 ignores VACUUM's RETAIN (unless 0) by default and keeps deletedFileRetentionDuration;
# honouring it lets a dry run list by the retention the run is about to set. Never lower either way.
RETAIN_IGNORED = "spark.databricks.delta.vacuum.retentionWindowIgnore.enabled"
# Commits this job makes; between them and the last Z-ordering the table's data did not change.
MAINTENANCE_OPERATIONS = {"SET TBLPROPERTIES", "COMPUTE STATS", "VACUUM START", "VACUUM END"}
_UNIT_HOURS = {"week": 168.0, "day": 24.0, "hour": 1.0, "minute": 1 / 60, "second": 1 / 3600,
               "millisecond": 1 / 3_600_000, "microsecond": 1 / 3_600_000_000}
_INTERVAL_PART = re.compile(r"(\d+)\s*(week|day|hour|minute|second|millisecond|microsecond)s?")
SHOWN_PATHS = 100


class MaintenanceFailed(RuntimeError):
    """Some tables failed for another reason than a commit conflict (the others were maintained)."""

    def __init__(self, message: str, summary: dict) -> None:
        super().__init__(message)
        self.summary = summary


class ConflictSkipped(RuntimeError):
    """A step kept conflicting with concurrent writers: skipped until the next run."""


# --- Pure parts ------------------------------------------------------------------------


def interval_hours(value: str | None) -> float | None:
    """Hours of a Delta interval property ('interval 30 days', '1 week 2 hours'); None if unreadable."""
    if value is None:
        return None
    body = value.strip().lower()
    body = body[len("interval"):] if body.startswith("interval") else body
    parts = _INTERVAL_PART.findall(body)
    if not parts or _INTERVAL_PART.sub("", body).strip():
        return None
    return sum(int(number) * _UNIT_HOURS[unit] for number, unit in parts)


def retention_targets(current: Mapping[str, str], cfg: MaintenanceConfig) -> dict[str, float | None]:
    """{property: hours the table should keep} — the configured hours or the table's own when longer
    (None: the table's value is unreadable, so it is left alone)."""
    targets: dict[str, float | None] = {}
    for key, hours in ((FILE_RETENTION, cfg.vacuum_retain_hours), (LOG_RETENTION, cfg.log_retention_hours)):
        raw = current.get(key)
        have = DELTA_DEFAULT_HOURS[key] if raw is None else interval_hours(raw)
        targets[key] = None if have is None else max(float(hours), have)
    # The log must outlive the data files, or versions whose files still exist become unreadable.
    if targets[FILE_RETENTION] is not None and targets[LOG_RETENTION] is not None:
        targets[LOG_RETENTION] = max(targets[LOG_RETENTION], targets[FILE_RETENTION])
    return targets


def planned_properties(current: Mapping[str, str], cfg: MaintenanceConfig) -> dict[str, str]:
    """The table properties to set so the table matches the configuration ({} when it does)."""
    changes: dict[str, str] = {}
    for key, hours in retention_targets(current, cfg).items():
        if hours is None:
            continue
        have = DELTA_DEFAULT_HOURS[key] if current.get(key) is None else interval_hours(current[key])
        if current.get(key) is None or (have is not None and have < hours):
            changes[key] = f"interval {math.ceil(hours)} hours"
    for key, value in cfg.table_properties.items():
        if current.get(key) != value:
            changes[key] = value
    return changes


def vacuum_retain_hours(properties: Mapping[str, str], cfg: MaintenanceConfig) -> int | None:
    """RETAIN for VACUUM: never below the configured hours nor the table's deletedFileRetentionDuration
    (None: that property is unreadable, so VACUUM is skipped)."""
    hours = retention_targets(properties, cfg)[FILE_RETENTION]
    return None if hours is None else math.ceil(hours)


def retention_in_place(properties: Mapping[str, str], cfg: MaintenanceConfig) -> bool:
    """The table itself keeps deleted files at least the configured hours. Delta 4.4's VACUUM goes by
    this property, so it must hold before a VACUUM (it does not when setting it was skipped)."""
    hours = interval_hours(properties.get(FILE_RETENTION))
    return hours is not None and hours >= cfg.vacuum_retain_hours


def retry_conflicts(action: Callable[[], T], what: str, retries: int, backoff_seconds: float,
                    sleep: Callable[[float], None] = time.sleep) -> T:
    """`action()` through `regulake.lake.with_retry` (at most `retries` more times after commit
    conflicts, waiting backoff × attempt); a conflict still there after that is ConflictSkipped."""
    try:
        return lake.with_retry(action, what, attempts=retries + 1, backoff_seconds=backoff_seconds, sleep=sleep)
    except Exception as error:
        if not lake.is_conflict(error):
            raise
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0][:300]
        raise ConflictSkipped(f"{what}: still conflicting with concurrent writers after "
                              f"{retries + 1} attempts ({first_line})") from error


# --- Spark and Delta ---------------------------------------------------------------------


def _quote(value: str) -> str:
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def _detail(spark: SparkSession, ref: str) -> dict[str, Any]:
    row = spark.sql(f"DESCRIBE DETAIL {ref}").first()
    return {"num_files": int(row["numFiles"] or 0), "properties": dict(row["properties"] or {})}


def _zorder_up_to_date(spark: SparkSession, ref: str, columns: Sequence[str]) -> bool:
    """True when the latest data-bearing commit is an OPTIMIZE ZORDER BY these columns."""
    import json

    history = spark.sql(f"DESCRIBE HISTORY {ref} LIMIT 20").select("operation", "operationParameters").collect()
    for row in history:  # newest first
        if row["operation"] in MAINTENANCE_OPERATIONS:
            continue
        params = row["operationParameters"] or {}
        return row["operation"] == "OPTIMIZE" and json.loads(params.get("zOrderBy") or "[]") == list(columns)
    return False


def _optimize(spark: SparkSession, ref: str, zorder: Sequence[str] | None) -> dict[str, Any]:
    statement = f"OPTIMIZE {ref}"
    if zorder:
        statement += " ZORDER BY (" + ", ".join(f"`{column}`" for column in zorder) + ")"
    metrics = spark.sql(statement).first()["metrics"]
    return {"files_removed": int(metrics["numFilesRemoved"]), "files_added": int(metrics["numFilesAdded"])}


def _delta_log(spark: SparkSession, path: str):
    jvm = spark.sparkContext._jvm
    delta_log = jvm.org.apache.spark.sql.delta.DeltaLog.forTable(spark._jsparkSession, path)
    return delta_log, delta_log.update(False, jvm.scala.Option.empty(), jvm.scala.Option.empty())


def files_without_stats(spark: SparkSession, path: str) -> int:
    """Data files of the table's current snapshot whose Delta statistics are missing."""
    _, snapshot = _delta_log(spark, path)
    return int(snapshot.allFiles().where("stats IS NULL").count())


def _recompute_stats(spark: SparkSession, path: str) -> bool:
    jvm = spark.sparkContext._jvm
    delta_log, _ = _delta_log(spark, path)
    stats = jvm.org.apache.spark.sql.delta.stats.StatisticsCollection
    # recompute(spark, deltaLog, catalogTable, predicates = all, fileFilter = all files)
    stats.recompute(spark._jsparkSession, delta_log, jvm.scala.Option.empty(),
                    getattr(stats, "recompute$default$4")(), getattr(stats, "recompute$default$5")())
    return True


def _vacuum_candidates(spark: SparkSession, ref: str, hours: int) -> list[str]:
    return [row["path"] for row in spark.sql(f"VACUUM {ref} RETAIN {hours} HOURS DRY RUN").collect()]


@contextmanager
def _maintenance_conf(spark: SparkSession, cfg: MaintenanceConfig) -> Iterator[None]:
    """Session settings for the job (put back afterwards): VACUUM's listing parallelism and logging."""
    if str(spark.conf.get(RETENTION_CHECK, "true")).lower() == "false":
        raise RuntimeError(f"{RETENTION_CHECK} is false in this session: refusing to maintain tables "
                           "(VACUUM must never go below the configured retention)")
    wanted = {
        "spark.sql.sources.parallelPartitionDiscovery.parallelism": str(cfg.vacuum_listing_parallelism),
        "spark.databricks.delta.vacuum.logging.enabled": str(cfg.log_vacuum).lower(),
        RETAIN_IGNORED: "false",
    }
    with temporary_conf(spark, wanted):
        yield


def maintain_table(spark: SparkSession, settings: Settings, layer: str, table: str,
                   dry_run: bool = False) -> dict[str, Any]:
    """Maintain one Delta table; what was done (or, in a dry run, would be done)."""
    cfg = settings.config.maintenance
    name, path = f"{layer}.{table}", settings.table_path(layer, table)
    ref = f"delta.`{path}`"
    started = time.monotonic()
    result: dict[str, Any] = {"table": name, "status": "ok", "skipped_steps": [], "warnings": []}

    def warn(message: str) -> None:
        log.warning("%s: %s", name, message)
        result["warnings"].append(message)

    def step(what: str, action: Callable[[], T]) -> T | None:
        try:
            return retry_conflicts(action, f"{name} {what}", cfg.conflict_retries, cfg.conflict_backoff_seconds)
        except ConflictSkipped as skipped:
            warn(f"{skipped}; skipped until the next run")
            result["skipped_steps"].append(what)
            return None

    detail = _detail(spark, ref)
    result["files_before"] = detail["num_files"]
    properties = detail["properties"]
    for key in (FILE_RETENTION, LOG_RETENTION):
        if key in properties and interval_hours(properties[key]) is None:
            warn(f"{key}={properties[key]!r} is not an interval this job reads: left alone")

    # 1. Retention (and configured) table properties: a metadata commit, so only when they differ.
    planned = planned_properties(properties, cfg)
    if dry_run:
        result["properties"] = planned
        properties = {**properties, **planned}
    elif planned:
        attempts = []

        def set_properties() -> dict[str, str]:
            # A retry plans again on the latest snapshot.
            todo = planned_properties(_detail(spark, ref)["properties"], cfg) if attempts else planned
            attempts.append(1)
            if todo:
                pairs = ", ".join(f"{_quote(k)} = {_quote(v)}" for k, v in sorted(todo.items()))
                spark.sql(f"ALTER TABLE {ref} SET TBLPROPERTIES ({pairs})")
            return todo

        result["properties"] = step("set properties", set_properties) or {}
        properties = {**properties, **result["properties"]}
    else:
        result["properties"] = {}

    # 2. OPTIMIZE: bin-packing, or Z-order where configured.
    zorder = cfg.zorder.get(name)
    if dry_run:
        result["optimize"] = "not run (dry run)"
    elif zorder and _zorder_up_to_date(spark, ref, zorder):
        result["optimize"] = {"zorder_by": zorder, "up_to_date": True, "files_removed": 0, "files_added": 0}
    else:
        done = step("optimize", lambda: _optimize(spark, ref, zorder))
        result["optimize"] = {"zorder_by": zorder or [], **(done or {"files_removed": 0, "files_added": 0})}
    if isinstance(result["optimize"], dict):
        result["files_after"] = (result["files_before"] - result["optimize"]["files_removed"]
                                 + result["optimize"]["files_added"])

    # 3. Delta file statistics for files written without them.
    if cfg.compute_stats:
        try:
            missing = files_without_stats(spark, path)
        except Exception as error:  # noqa: BLE001 - an internal Delta API: degrade, do not fail
            warn(f"statistics: Delta's snapshot API is not available ({error}); skipped")
            missing = 0
        result["stats"] = {"files_without_stats": missing, "recomputed": False}
        if missing and not dry_run:
            result["stats"]["recomputed"] = bool(step("compute statistics", lambda: _recompute_stats(spark, path)))

    # 4. VACUUM, never below the configured retention nor the table's own.
    hours = vacuum_retain_hours(properties, cfg)
    if hours is None or not retention_in_place(properties, cfg):
        result["vacuum"] = f"skipped: {FILE_RETENTION} is {properties.get(FILE_RETENTION)!r}"
        warn(f"VACUUM skipped: {FILE_RETENTION}={properties.get(FILE_RETENTION)!r} is not a retention of "
             f"at least {cfg.vacuum_retain_hours} hours")
    else:
        doomed = _vacuum_candidates(spark, ref, hours)
        result["vacuum"] = {"retain_hours": hours, "files": len(doomed)}
        if dry_run:
            result["vacuum"]["would_delete"] = doomed[:SHOWN_PATHS]
            for file in doomed[:SHOWN_PATHS]:
                log.info("%s: VACUUM would delete %s", name, file)
            if len(doomed) > SHOWN_PATHS:
                log.info("%s: ... and %d more files", name, len(doomed) - SHOWN_PATHS)
        elif doomed:
            spark.sql(f"VACUUM {ref} RETAIN {hours} HOURS")

    if result["skipped_steps"]:
        result["status"] = "skipped steps"
    result["seconds"] = round(time.monotonic() - started, 1)
    log.info("%s: %s", name, {k: v for k, v in result.items() if k not in ("warnings", "table")})
    return result


def run(ctx: StageContext, layers: Sequence[str] | None = None, dry_run: bool = False) -> dict:
    """Maintain every Delta table of `layers` (default: `maintenance.layers`); one failing table does
    not stop the others, but fails the run at the end (MaintenanceFailed, with the summary)."""
    spark, settings = ctx.spark, ctx.settings
    cfg = settings.config.maintenance
    layers = list(layers or cfg.layers)
    found = discover_tables(settings.lake_root)
    tables: dict[str, dict] = {}
    failed: list[str] = []
    with _maintenance_conf(spark, cfg):
        for layer in layers:
            if not found.get(layer):
                log.info("maintenance: no Delta tables in layer %s", layer)
            for table in found.get(layer, []):
                name = f"{layer}.{table}"
                try:
                    tables[name] = maintain_table(spark, settings, layer, table, dry_run=dry_run)
                except Exception as error:  # noqa: BLE001 - the other tables still get maintained
                    log.exception("%s: maintenance failed", name)
                    tables[name] = {"table": name, "status": "failed", "error": str(error)[:1000]}
                    failed.append(name)
    summary = {
        "run_id": ctx.run_id,
        "lake": settings.lake_root,
        "layers": layers,
        "dry_run": dry_run,
        "tables": tables,
        "skipped": sorted(f"{name}: {step}" for name, result in tables.items()
                          for step in result.get("skipped_steps", [])),
        "failed": failed,
    }
    log.info("maintenance of %s (%s): %d tables, %d steps skipped on conflicts, %d failed",
             settings.lake_root, ", ".join(layers), len(tables), len(summary["skipped"]), len(failed))
    if failed:
        raise MaintenanceFailed(f"maintenance failed for {', '.join(failed)} (see the log above); "
                                "the other tables were maintained", summary)
    return summary
