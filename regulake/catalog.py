"""The lake-path catalog: the lake itself is the catalog.

Why: the embedded Derby metastore admits one process, but Airflow runs tasks
in parallel, the SQL endpoint serves analysts while a DAG writes and an
analyst may run `regulake sql` during a run. So no process owns a metastore.
Each process keeps Spark's in-memory catalog and fills it from the lake:

* every `<lake_root>/<layer>/<table>/_delta_log` becomes the external table
  `<layer>.<table>` (layers are bronze, silver, gold, audit, plus any other
  folder holding Delta tables, e.g. `public`);
* every `<lake_root>/_catalog/views/<db>.<view>.sql` (a SELECT statement) is
  created as the view `<db>.<view>`.

`public` is what the last run published, never a run half-way: publish (the run's last
stage, after every gold table of the run has committed) writes `_catalog/views/_published.json`,
the gold version of each table, in one atomic write, and a `public` view reads each gold table
at that version (`gold.t VERSION AS OF n`). A view over a gold table no run has published yet is
left out. A `gold.*` table read directly is consistent on its own (its latest Delta commit) and
may be a run ahead of `public`.

Delta's transaction log gives readers a consistent snapshot while other
processes write, so sharing needs no lock. A table created after a process
attached becomes visible there after `refresh_catalog()`.

With `catalog: hive_metastore` (regulake/metastore.py) the same attach runs, but the entries
it makes are kept in the shared metastore database, where other engines find them too.
"""

from __future__ import annotations

import json
import logging
import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from regulake import storage

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from regulake.config import Settings

log = logging.getLogger(__name__)

VIEWS_DIR = "_catalog/views"
# The first line of a saved view that carries its docs: `-- regulake:doc {"comment": ..., "columns": [...]}`.
_DOC_MARK = "-- regulake:doc "
PUBLISHED = f"{VIEWS_DIR}/_published.json"
LAKE_CONF_KEY = "regulake.lake.root"
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_REGISTER_THREADS = 8
# A gold table named in a view's SELECT: gold.t or `gold`.`t`, not a column path like x.gold.t.
_GOLD_TABLE = re.compile(r"(?<![\w.`])`?gold`?\s*\.\s*`?([A-Za-z][A-Za-z0-9_]*)`?(?![\w`.])", re.I)


def discover_tables(lake_root: str) -> dict[str, list[str]]:
    """{database: [table, ...]} for every Delta table folder under the lake root."""
    from regulake.lake import is_delta_table

    found: dict[str, list[str]] = {}
    for database in storage.list_dirs(lake_root):
        if not _NAME.match(database):
            continue  # _catalog, _warehouse and other internals
        tables = [
            table
            for table in storage.list_dirs(f"{lake_root}/{database}")
            # A first write killed before its commit leaves a folder (data files, an empty log): no table.
            if _NAME.match(table) and is_delta_table(f"{lake_root}/{database}/{table}")
        ]
        found[database] = tables
    return found


def remove_uncommitted_tables(lake_root: str, database: str) -> list[str]:
    """Remove the folders of `database` that hold no Delta commit: what a first write killed before its
    commit left. Only for a writer holding the run lease (no other first write can be under way);
    SQL's CREATE TABLE refuses such a non-empty location."""
    from regulake.lake import is_delta_table

    removed = []
    for table in storage.list_dirs(f"{lake_root}/{database}"):
        uri = f"{lake_root}/{database}/{table}"
        if _NAME.match(table) and not is_delta_table(uri):
            log.warning("removing %s: a first write to %s.%s killed before its commit left it", uri, database, table)
            storage.remove_tree(uri)
            removed.append(table)
    return removed


# A live writer renames its commit's temporary file within milliseconds; one this old is a dead writer's.
ORPHAN_AGE_SECONDS = 60


def remove_orphaned_commit_files(lake_root: str, older_than_seconds: float = ORPHAN_AGE_SECONDS) -> list[str]:
    """Remove the temporary commit files killed writers left in the tables' Delta logs; their paths.

    On a local lake Delta writes each commit as `_delta_log/.<version>.json.<uuid>.tmp` and renames it
    into place. A writer killed in between leaves the file (and its `.crc`): Delta ignores it, and nothing
    else removes it. Only for a writer holding the run lease, and only files older than a minute, since
    `regulake serve` may be committing to audit.query_log at the same moment.
    """
    if not storage.is_local(lake_root):
        return []  # object stores: Delta's S3 log store writes the commit file itself, no rename
    cutoff_ns = time.time_ns() - int(older_than_seconds * 1e9)
    removed = []
    for database, tables in discover_tables(lake_root).items():
        for table in tables:
            log_dir = f"{lake_root}/{database}/{table}/_delta_log"
            for entry in storage.list_files(log_dir):
                if entry.name.startswith(".") and entry.name.endswith((".tmp", ".tmp.crc")) \
                        and entry.mtime_ns < cutoff_ns:
                    log.warning("removing %s/%s: a writer killed mid-commit left it", log_dir, entry.name)
                    storage.remove_file(f"{log_dir}/{entry.name}")
                    removed.append(f"{log_dir}/{entry.name}")
    return removed


def ensure_database(spark: SparkSession, lake_root: str, database: str) -> None:
    # The database location is the layer folder, so even a table created
    # without LOCATION lands at <lake_root>/<layer>/<table>.
    spark.sql(f"CREATE DATABASE IF NOT EXISTS `{database}` LOCATION '{lake_root}/{database}'")


def register_table(spark: SparkSession, lake_root: str, database: str, table: str) -> None:
    """Make `<database>.<table>` point at the Delta table under the lake root."""
    ensure_database(spark, lake_root, database)
    location = f"{lake_root}/{database}/{table}"
    spark.sql(f"CREATE TABLE IF NOT EXISTS `{database}`.`{table}` USING DELTA LOCATION '{location}'")


def save_view(spark: SparkSession, settings: Settings, database: str, view: str, select_sql: str,
              comment: str | None = None, column_comments: dict[str, str] | None = None) -> None:
    """Create a view and persist its definition in the lake, so every process sees it.

    With `comment` or `column_comments` (the model's docs) the view carries them as Spark
    COMMENTs, which BI tools show (DESCRIBE, JDBC getColumns' REMARKS). They are kept in the
    same file as the SELECT, on a leading `-- regulake:doc` line, so one write saves both."""
    ensure_database(spark, settings.lake_root, database)
    doc = None
    if comment or column_comments:
        column_comments = column_comments or {}
        doc = {"comment": comment or None,
               "columns": [[name, column_comments.get(name) or None] for name in spark.sql(select_sql).columns]}
    spark.sql(view_ddl(database, view, select_sql, doc))
    text = f"{_DOC_MARK}{json.dumps(doc, ensure_ascii=False)}\n{select_sql}" if doc else select_sql
    storage.write_text(f"{settings.lake_root}/{VIEWS_DIR}/{database}.{view}.sql", text)


def _sql_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def view_ddl(database: str, view: str, select_sql: str, doc: dict | None = None) -> str:
    """CREATE OR REPLACE VIEW, with the view's and its columns' comments when `doc` has them."""
    if not doc:
        return f"CREATE OR REPLACE VIEW `{database}`.`{view}` AS {select_sql}"
    columns = ", ".join(f"`{name}`" + (f" COMMENT {_sql_string(text)}" if text else "") for name, text in doc["columns"])
    comment = f" COMMENT {_sql_string(doc['comment'])}" if doc.get("comment") else ""
    return f"CREATE OR REPLACE VIEW `{database}`.`{view}` ({columns}){comment} AS {select_sql}"


def split_view_file(text: str) -> tuple[dict | None, str]:
    """(the view's docs or None, its SELECT) from a saved view file."""
    if text.startswith(_DOC_MARK):
        header, _, select_sql = text.partition("\n")
        return json.loads(header[len(_DOC_MARK):]), select_sql
    return None, text


def publish_gold(settings: Settings, run_id: str) -> dict[str, int]:
    """Switch `public` to the gold tables as committed now (publish calls it once every gold table of
    the run has committed); {table: version}. One small file, written atomically: a reader sees the
    previous run's versions or these, never some of each."""
    from regulake.stage_state import delta_version

    versions = {table: version for table in discover_tables(settings.lake_root).get("gold", [])
                if (version := delta_version(None, settings.table_path("gold", table))) is not None}
    if versions == published_versions(settings.lake_root):
        log.info("public already shows these gold versions: nothing to switch")
        return versions
    storage.write_text(f"{settings.lake_root}/{PUBLISHED}",
                       json.dumps({"run_id": run_id, "gold": versions}, sort_keys=True, indent=1))
    log.info("published %d gold tables to public (run %s)", len(versions), run_id)
    return versions


def published_versions(lake_root: str) -> dict[str, int]:
    """{gold table: version} of the last publish; empty before the first."""
    path = f"{lake_root}/{PUBLISHED}"
    return json.loads(storage.read_text(path))["gold"] if storage.exists(path) else {}


def pin_to_published(select_sql: str, published: dict[str, int]) -> str | None:
    """`select_sql` reading every gold table at its published version; None when one is not published."""
    missing = [m.group(1) for m in _GOLD_TABLE.finditer(select_sql) if m.group(1).lower() not in published]
    if missing:
        return None
    return _GOLD_TABLE.sub(lambda m: f"gold.`{m.group(1)}` VERSION AS OF {published[m.group(1).lower()]}",
                           select_sql)


def _register_views(spark: SparkSession, lake_root: str) -> None:
    views_root = f"{lake_root}/{VIEWS_DIR}"
    published = published_versions(lake_root)
    pending = {}
    for entry in storage.list_files(views_root):
        if entry.name.endswith(".sql") and entry.name.count(".") == 2:
            database, view, _ = entry.name.split(".")
            doc, select_sql = split_view_file(storage.read_text(f"{views_root}/{entry.name}"))
            if database == "public":
                select_sql = pin_to_published(select_sql, published)
                if select_sql is None:
                    log.debug("view public.%s: a gold table it reads is not published yet", view)
                    continue
            pending[(database, view)] = view_ddl(database, view, select_sql, doc)
    for database in {database for database, _ in pending}:
        ensure_database(spark, lake_root, database)

    def create(entry: tuple[tuple[str, str], str]) -> tuple[str, str] | None:
        (database, view), ddl = entry
        try:
            spark.sql(ddl)
        except Exception:  # noqa: BLE001 - a dependency may come in a later pass
            return None
        return database, view

    # Views may select from views: create in passes (each one concurrent) until nothing changes.
    with ThreadPoolExecutor(max_workers=_REGISTER_THREADS) as pool:
        while pending:
            created = [key for key in pool.map(create, list(pending.items())) if key is not None]
            for key in created:
                del pending[key]
            if not created:
                for database, view in pending:
                    log.warning("view %s.%s could not be created from %s", database, view, views_root)
                return


def attach_catalog(spark: SparkSession, settings: Settings, refresh: bool = False) -> None:
    """Fill this process's catalog from the lake (once per lake, or again with refresh=True)."""
    lake_root = settings.lake_root
    attached = spark.conf.get(LAKE_CONF_KEY, None)
    if attached == lake_root and not refresh:
        return
    if attached and attached != lake_root:
        if str(spark.conf.get("spark.sql.catalogImplementation", "in-memory")) == "hive":
            raise RuntimeError(f"this session's metastore catalog belongs to {attached}; a session for "
                               f"{lake_root} needs its own metastore (catalog: hive_metastore)")
        _detach(spark)
        for database in [d.name for d in spark.catalog.listDatabases() if d.name != "default"]:
            spark.sql(f"ALTER DATABASE `{database}` SET LOCATION '{lake_root}/{database}'")
    for layer in settings.layers:
        ensure_database(spark, lake_root, layer)
    missing = []
    for database, tables in discover_tables(lake_root).items():
        ensure_database(spark, lake_root, database)
        # listTables also lists the session's temporary views: a temp view's name is no table here.
        existing = {t.name for t in spark.catalog.listTables(database) if not t.isTemporary}
        missing += [(database, table) for table in tables if table not in existing]
    # Registering reads each table's Delta log: mostly waiting on small files and job scheduling,
    # so a few at a time take a fraction of the time one by one does.
    with ThreadPoolExecutor(max_workers=_REGISTER_THREADS) as pool:
        list(pool.map(lambda entry: register_table(spark, lake_root, *entry), missing))
    _register_views(spark, lake_root)
    spark.conf.set(LAKE_CONF_KEY, lake_root)
    log.info("catalog attached to %s", lake_root)


def refresh_catalog(spark: SparkSession, settings: Settings) -> None:
    """Pick up tables and views that other processes created since attach."""
    attach_catalog(spark, settings, refresh=True)


def _detach(spark: SparkSession) -> None:
    """Forget another lake's tables and views (external entries: no data is touched). Its databases
    stay, re-pointed by the next attach: Spark's in-memory catalog deletes the folder of a dropped
    database, and a database's folder here is a layer of that lake."""
    for database in [d.name for d in spark.catalog.listDatabases() if d.name != "default"]:
        for table in [t for t in spark.catalog.listTables(database) if not t.isTemporary]:
            if table.tableType == "MANAGED":
                raise RuntimeError(f"{database}.{table.name} is a managed table; refusing to detach")
            kind = "VIEW" if table.tableType == "VIEW" else "TABLE"
            spark.sql(f"DROP {kind} IF EXISTS `{database}`.`{table.name}`")
