"""Skip a whole-table stage when nothing it reads has changed since its last run.

A Delta write commits a new version even when it changes no row, so a rerun that
must change nothing has to decide not to write at all. Stages that rebuild from
their inputs (linking, dbt, risk) fingerprint what they read — the Delta version of
every input table, the files of config and code they depend on, and parameters
such as the as-of date — and record it in `audit.stage_run` after they succeed.
The next run with the same fingerprint is skipped, and says so in the log.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from regulake import lake, storage
from regulake.config import Settings

log = logging.getLogger(__name__)

STAGE_RUN = "stage_run"
# Build output and caches inside code folders: they change without the code changing
# (dbt writes its anonymous user id to .user.yml on its first run in a fresh clone).
_NOT_INPUTS = {"__pycache__", "target", "logs", "dbt_packages", ".pytest_cache", ".user.yml"}
_COMMIT = re.compile(r"^(\d{20})\.json$")


def delta_version(spark: SparkSession, uri: str) -> int | None:
    """The latest committed version of the Delta table at `uri` (None if there is none).

    Read from the commit file names in `_delta_log`: one listing, no Spark job.
    """
    versions = [int(m.group(1)) for entry in storage.list_files(f"{uri}/_delta_log")
                if (m := _COMMIT.match(entry.name))]
    return max(versions) if versions else None


def table_versions(spark: SparkSession, settings: Settings, tables: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """{"layer.table": version or None} for each (layer, table)."""
    return {f"{layer}.{table}": delta_version(spark, settings.table_path(layer, table))
            for layer, table in sorted(set(tables))}


def files_digest(paths: Iterable[Path]) -> str:
    """One hash over the contents of files (directories: every source file below them)."""
    digest = hashlib.sha256()
    for root in paths:
        files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix != ".pyc"
                       and not _NOT_INPUTS.intersection(p.relative_to(root).parts)) if root.is_dir() else [root]
        for file in files:
            digest.update(str(file.relative_to(root.parent)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def fingerprint(**inputs: Any) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()


def last_fingerprint(spark: SparkSession, settings: Settings, stage: str) -> str | None:
    runs = lake.read(spark, settings, "audit", STAGE_RUN)
    if runs is None:
        return None
    row = runs.where(F.col("stage") == stage).orderBy(F.desc("finished_at")).select("fingerprint").first()
    return row[0] if row else None


def unchanged(spark: SparkSession, settings: Settings, stage: str, current: str) -> bool:
    """True (and logged) when `stage` last ran on exactly these inputs."""
    if last_fingerprint(spark, settings, stage) == current:
        log.info("%s: inputs unchanged since its last run (fingerprint %s): skipped", stage, current[:12])
        return True
    return False


def record(spark: SparkSession, settings: Settings, stage: str, run_id: str, current: str) -> None:
    """Remember that `stage` succeeded on inputs `current` (call it last, after every write)."""
    row = spark.createDataFrame([(stage, run_id, current)], "stage string, run_id string, fingerprint string")
    lake.audit_append(spark, settings, STAGE_RUN, row.withColumn("finished_at", F.current_timestamp()))


# What the last run that got to its end had built from: the next run with nothing new skips the
# stages after promotion (one small file, written last by publish).
LAST_COMPLETE_RUN = "_catalog/last_complete_run.json"


def silver_versions(settings: Settings) -> dict[str, int]:
    """{silver table: latest version} (file listings only)."""
    from regulake.catalog import discover_tables

    return {table: version for table in discover_tables(settings.lake_root).get("silver", [])
            if (version := delta_version(None, settings.table_path("silver", table))) is not None}


def record_complete_run(settings: Settings, run_id: str, as_of: Any) -> None:
    """Publish calls this last: every stage of `run_id` built from these silver versions on `as_of`."""
    state = {"run_id": run_id, "as_of": str(as_of), "silver": silver_versions(settings)}
    path = f"{settings.lake_root}/{LAST_COMPLETE_RUN}"
    if storage.exists(path) and {k: v for k, v in json.loads(storage.read_text(path)).items() if k != "run_id"} \
            == {k: v for k, v in state.items() if k != "run_id"}:
        return
    storage.write_text(path, json.dumps(state, sort_keys=True, indent=1))


def nothing_to_build(settings: Settings, as_of: Any, *, as_of_asked: bool, rebuild: bool) -> str | None:
    """Why the stages after promotion have nothing to do in this run, or None when they have.

    Nothing to do: no silver table yet; or silver has not changed since the last run that got to its
    end, and no one asked for another as-of date or for a rebuild. A run killed before its end left no
    record, so the run after it builds (each stage then skips by its own fingerprint what is done)."""
    silver = silver_versions(settings)
    if not silver:
        return "nothing has been promoted to silver yet"
    path = f"{settings.lake_root}/{LAST_COMPLETE_RUN}"
    if rebuild or not storage.exists(path):
        return None
    last = json.loads(storage.read_text(path))
    if last.get("silver") != silver or (as_of_asked and last.get("as_of") != str(as_of)):
        return None
    return (f"nothing new: silver is as run {last['run_id']} left it (as of {last['as_of']}); "
            "run with --rebuild (param rebuild) to build anyway")
