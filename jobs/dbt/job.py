"""Run the dbt project in-process on the pipeline's SparkSession: seeds, models, tests, docs.

dbt-spark's `method: session` executes every statement through
`SparkSession.builder.getOrCreate()`, which returns the session that
`regulake.spark.get_spark()` built (Delta configured, lake-path catalog attached).
So dbt must run in this process, after that session exists, and never start its
own (that would need a Hive metastore).

Tables land at `<lake_root>/gold/<table>` (dbt-spark `location_root` from the var
`gold_location`), so the lake-path catalog finds them in every other process.
Views do not live in the lake: staging and intermediate views exist only during
the dbt run; the public views (schema `public`) are persisted afterwards with
`regulake.catalog.save_view` from their compiled SELECT, so the SQL endpoint and
every other process see them.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from jobs.dbt.config import DBT_PROJECT_DIR, DOCS_DIR, load_dbt_config
from regulake import lineage, storage
from regulake.catalog import ensure_database, save_view
from regulake.config import Settings
from regulake.person_id import SALT_CONF, person_id_salt
from regulake.stage import StageContext

log = logging.getLogger(__name__)

GOLD = "gold"
PUBLIC = "public"
FAILED = ("error", "fail", "runtime error")
ANSI_KEY = "spark.sql.ansi.enabled"


class DbtBuildFailed(RuntimeError):
    """dbt failed: `failures` names each failing model, seed, unit test or data test."""

    def __init__(self, failures: Sequence[str], skipped: int = 0) -> None:
        self.failures = list(failures)
        self.skipped = skipped
        detail = "; ".join(self.failures)
        suffix = f" ({skipped} skipped downstream)" if skipped else ""
        super().__init__(f"dbt build failed: {detail}{suffix}")


@contextmanager
def _dbt_environment(spark: SparkSession, settings: Settings | None = None) -> Iterator[None]:
    """DBT_PROFILES_DIR for the run; Spark's ANSI mode back as it was afterwards.

    dbt-spark's session mode switches `spark.sql.ansi.enabled` off for the whole
    session; later jobs in the same process must not inherit that.
    The lake's person_id salt is a session setting for the run only (the macro `person_id`
    names it through Spark's variable substitution, so it stays out of dbt's files).
    """
    previous_profiles = os.environ.get("DBT_PROFILES_DIR")
    previous_ansi = spark.conf.get(ANSI_KEY, None)
    os.environ["DBT_PROFILES_DIR"] = str(DBT_PROJECT_DIR)
    if settings is not None:
        spark.conf.set(SALT_CONF, person_id_salt(settings))
    try:
        yield
    finally:
        spark.conf.unset(SALT_CONF)
        if previous_profiles is None:
            os.environ.pop("DBT_PROFILES_DIR", None)
        else:
            os.environ["DBT_PROFILES_DIR"] = previous_profiles
        if previous_ansi is not None:
            spark.conf.set(ANSI_KEY, previous_ansi)
        # Incremental merges leave `<model>__dbt_tmp` temporary views in the session.
        for row in spark.sql("show tables").collect():
            if row["isTemporary"] and row["tableName"].endswith("__dbt_tmp"):
                spark.sql(f"drop view if exists `{row['tableName']}`")


def _invoke(command: list[str], settings: Settings, target_path: Path, threads: int | None = None,
            as_of: date | None = None) -> Any:
    from dbt.cli.main import dbtRunner

    variables = {"gold_location": f"{settings.lake_root}/{GOLD}"}
    if as_of is not None:
        variables["as_of_date"] = as_of.isoformat()
    args = [
        *command,
        "--project-dir", str(DBT_PROJECT_DIR),
        "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target-path", str(target_path),
        "--log-path", str(DBT_PROJECT_DIR / "logs"),
        "--vars", json.dumps(variables),
        "--no-use-colors",
    ]
    if threads:
        args += ["--threads", str(threads)]
    result = dbtRunner().invoke(args)
    if result.exception is not None:
        raise DbtBuildFailed([f"dbt {' '.join(command)}: {result.exception}"])
    return result


def person_ids_stale(spark: SparkSession, settings: Settings) -> bool:
    """True when gold.fct_court_dishonest (incremental: it keeps rows it does not rebuild) holds
    person_ids of another salt or scheme (the md5 of a lake built before), so a full refresh
    must recompute them all; False for a new lake or ids of the current salt."""
    from pyspark.sql import functions as F

    from regulake import lake
    from regulake.person_id import person_id

    court = lake.read(spark, settings, GOLD, "fct_court_dishonest")
    if court is None or "person_id" not in court.columns:
        return False
    sample = (court.where(F.col("person_id").isNotNull() & F.col("party_id_no").isNotNull())
              .select("person_id", "party_id_no").limit(1).collect())
    if not sample:
        return False
    expected = person_id(person_id_salt(settings), f"ric:{sample[0]['party_id_no']}")
    return sample[0]["person_id"] != expected


def _label(node: Any) -> str:
    return f"{node.resource_type} {node.name}"


def _failure(result: Any) -> str:
    message = (result.message or "").strip().splitlines()
    return f"{_label(result.node)} ({result.status}: {message[0] if message else 'no message'})"


def _public_views(results: list[Any], manifest: dict) -> list[Any]:
    """The public views this run built, checked to read only what outlives the run."""
    nodes = manifest["nodes"]
    views = [
        r.node for r in results
        if r.node.resource_type == "model" and r.node.schema == PUBLIC
        and r.node.config.materialized == "view" and str(r.status) == "success"
    ]
    for node in views:
        for parent in node.depends_on.nodes:
            parent_node = nodes.get(parent, {})
            config = parent_node.get("config", {})
            persisted = config.get("materialized") in ("table", "incremental", "seed") or (
                parent_node.get("schema") == PUBLIC and config.get("materialized") == "view"
            )
            if parent_node.get("resource_type") == "seed" or persisted:
                continue
            raise DbtBuildFailed([f"model {node.name}: public view reads {parent}, which does not outlive "
                                  f"the dbt run (only gold tables and public views do)"])
    return views


def publish_docs(settings: Settings, target: Path, generated: Any) -> str | None:
    """Copy dbt's one-page docs site (`docs generate --static`) into the lake, where the run report
    links it: `<lake>/_docs/index.html`. None when dbt wrote no page (the docs stay in target/)."""
    page = target / "static_index.html"
    if not generated.success or not page.is_file():
        log.warning("dbt docs generate wrote no %s: the lake's _docs/ is left as it was", page)
        return None
    uri = f"{settings.lake_root}/{DOCS_DIR}/index.html"
    storage.write_text(uri, page.read_text(encoding="utf-8"))
    log.info("dbt docs site copied to %s", uri)
    return uri


def dbt_build(spark: SparkSession, settings: Settings, run_id: str, select: Sequence[str] | None = None,
              full_refresh: bool = False, docs: bool = True, target_path: str | Path | None = None,
              as_of: date | None = None) -> dict:
    """Seeds + build (run + test, unit tests included) + docs generate, in-process.

    Raises DbtBuildFailed naming each failing model/test. Returns counts:
    seeds, models, unit_tests, data_tests, passed, warned (with `warnings`),
    skipped, public_views, seconds. `select` narrows the build (dbt selectors); the views the
    selected nodes read are re-created with them (with their tests), since views do not
    outlive a dbt run. `as_of` fixes the date time-relative columns are computed for
    (rectification and task overdue days); default: the build date.
    """
    started = time.monotonic()
    config = load_dbt_config()
    target = Path(target_path) if target_path else DBT_PROJECT_DIR / "target"
    for database in (GOLD, PUBLIC):
        ensure_database(spark, settings.lake_root, database)
    command = ["build"]
    if select:
        # Views live only in the dbt process: a narrowed build re-creates the views it reads.
        command += ["--select", *select, *[f"+{s},config.materialized:view" for s in select]]
    if not full_refresh and person_ids_stale(spark, settings):
        log.warning("gold person_ids were computed with another salt (or unsalted): full refresh")
        full_refresh = True
    if full_refresh:
        command.append("--full-refresh")
    log.info("dbt build %s (run %s), lake %s", " ".join(select or []) or "all", run_id, settings.lake_root)
    with _dbt_environment(spark, settings):
        build = _invoke(command, settings, target, config.threads, as_of)
        results = list(build.result.results)
        statuses = Counter(str(r.status) for r in results)
        failures = [_failure(r) for r in results if str(r.status) in FAILED]
        if failures or not build.success:
            raise DbtBuildFailed(failures or ["dbt build reported failure"], skipped=statuses["skipped"])
        manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
        views = _public_views(results, manifest)
        for node in views:
            save_view(spark, settings, PUBLIC, node.alias, node.compiled_code, comment=node.description,
                      column_comments={name: column.description for name, column in node.columns.items()})
        # Before `docs generate`, which replaces run_results.json.
        lineage.emit_dbt(settings, run_id, DBT_PROJECT_DIR, target)
        if docs:
            publish_docs(settings, target, _invoke(["docs", "generate", "--static"], settings, target,
                                                   config.threads, as_of))
    kinds = Counter(r.node.resource_type for r in results)
    figures = {
        "run_id": run_id,
        "seeds": kinds["seed"],
        "models": kinds["model"],
        "unit_tests": kinds["unit_test"],
        "data_tests": kinds["test"],
        "passed": statuses["success"] + statuses["pass"],
        "warned": statuses["warn"],
        "warnings": [_failure(r) for r in results if str(r.status) == "warn"],
        "skipped": statuses["skipped"],
        "public_views": len(views),
        "seconds": round(time.monotonic() - started, 1),
    }
    log.info("dbt %s: %s", run_id, {k: v for k, v in figures.items() if k != "warnings"})
    return figures


def run(ctx: StageContext) -> dict:
    """The DAG's dbt stage: `dbt_build`, skipped when silver, the links, the project and the date are unchanged.

    dbt's table materialisations rewrite every table, so an unchanged rerun would
    otherwise commit a new version of each (see regulake.stage_state).
    """
    from regulake import stage_state
    from regulake.catalog import discover_tables, remove_uncommitted_tables
    from regulake.config import conf_file

    spark, settings, run_id, effective = ctx.spark, ctx.settings, ctx.run_id, ctx.as_of
    silver = discover_tables(settings.lake_root).get("silver", [])
    inputs = stage_state.fingerprint(
        tables=stage_state.table_versions(
            spark, settings, [("silver", t) for t in silver] + [("gold", "entity_xref"), ("gold", "enterprise_person")]),
        code=stage_state.files_digest([DBT_PROJECT_DIR, conf_file("dbt.yaml")]),
        as_of=effective.isoformat(),
    )
    if stage_state.unchanged(spark, settings, "dbt_build", inputs):
        return {"run_id": run_id, "skipped": "inputs unchanged"}
    # dbt creates tables with SQL, which refuses the non-empty folder of a killed first write.
    remove_uncommitted_tables(settings.lake_root, "gold")
    figures = dbt_build(spark, settings, run_id, as_of=effective)
    stage_state.record(spark, settings, "dbt_build", run_id, inputs)
    return figures
