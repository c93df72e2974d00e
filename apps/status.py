"""What `regulake status` reports, read from the lake alone, without a JVM.

delta-rs (the `deltalake` package) reads the Delta tables directly: a table's row count is the sum of
`numRecords` in its Delta log (the stats of each add action; a table written without stats is
counted by reading it), and the few audit tables status needs are read in full (they hold a row per
delivery, verdict or run). Local lakes and s3a:// lakes (the same endpoint and keys Spark uses,
`regulake.storage.s3_options`) both work.

What the lake records, and therefore what status can say:

* the last run: the newest row of `audit.pipeline_run` (publish writes it, so a run that failed
  before publishing is not there; a later run that recorded stages but no run row is named);
* the stages that run skipped: every stage after promotion that ran writes an `audit.stage_run`
  row with the run's id, so a stage of `STAGES` without a row for the last run was skipped (it
  found its inputs unchanged, or the run had nothing new: `_catalog/last_complete_run.json`);
* held-back deliveries: `held_back`, the definition of `jobs.silver.job.held_deliveries`;
* per feed: the latest batch loaded (`audit.delivery_log`), its age and the deliveries by status.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa
    from deltalake import DeltaTable
    from rich.console import Console

    from regulake.config import Settings

# The stages of the main DAG after promotion that record an audit.stage_run row when they run
# (dags/regulake_main.py, in order; tests/apps/test_status.py checks the DAG still has them).
STAGES = ("link_entities", "dbt_build", "risk_classes", "inspection_plan", "scorecards")
DELIVERY_STATUSES = ("loaded", "duplicate", "rejected", "incomplete")  # jobs/landing/job.py
HELD = "held"  # jobs.silver.job.HELD
_THREADS = 8


# --- reading the lake with delta-rs ---------------------------------------------------------


def storage_options(settings: Settings) -> dict[str, str]:
    """delta-rs (object_store) options for an s3a:// lake, from the s3a settings Spark uses
    (`spark.hadoop.fs.s3a.*` in conf/regulake.yaml), else the usual AWS environment; {} for a local lake."""
    from regulake import storage

    if storage.is_local(settings.lake_root):
        return {}
    conf = {k: str(v) for k, v in (settings.spark.get("conf") or {}).items() if k.startswith("spark.hadoop.fs.s3a.")}
    return delta_options(storage.s3_options(conf, dict(os.environ)))


def delta_options(s3: Mapping[str, str]) -> dict[str, str]:
    """pyarrow S3FileSystem options (`regulake.storage.s3_options`) as object_store's AWS_* keys."""
    options: dict[str, str] = {}
    if s3.get("endpoint_override"):
        scheme = s3.get("scheme", "https")
        options["AWS_ENDPOINT_URL"] = f"{scheme}://{s3['endpoint_override']}"
        if scheme == "http":
            options["AWS_ALLOW_HTTP"] = "true"
    if s3.get("access_key"):
        options["AWS_ACCESS_KEY_ID"] = s3["access_key"]
        options["AWS_SECRET_ACCESS_KEY"] = s3.get("secret_key", "")
    if s3.get("region"):
        options["AWS_REGION"] = s3["region"]
    return options


def delta_uri(uri: str) -> str:
    """The table's URI as delta-rs takes it: s3a:// and s3n:// become s3://, local paths absolute."""
    from pathlib import Path

    scheme, sep, rest = str(uri).partition("://")
    if not sep:
        return str(Path(uri).expanduser().resolve())
    return f"s3://{rest}" if scheme in ("s3a", "s3n") else str(uri)


def open_table(settings: Settings, layer: str, table: str) -> DeltaTable | None:
    """The Delta table `<layer>.<table>` of the lake, or None when it does not exist (yet)."""
    from deltalake import DeltaTable

    from regulake.lake import is_delta_table

    uri = settings.table_path(layer, table)
    if not is_delta_table(uri):
        return None
    return DeltaTable(delta_uri(uri), storage_options=storage_options(settings) or None)


def read_rows(settings: Settings, layer: str, table: str, columns: Iterable[str]) -> list[dict[str, Any]]:
    """The rows of `<layer>.<table>` as dicts of `columns` ([] when the table does not exist; a column
    the table lacks, as an older table may, is None)."""
    dt = open_table(settings, layer, table)
    if dt is None:
        return []
    import pyarrow as pa

    columns = list(columns)
    present = {field.name for field in dt.schema().fields}
    if not present.intersection(columns):
        return [dict.fromkeys(columns) for _ in range(row_count(dt))]
    table = scan(dt, [c for c in columns if c in present])
    # Time-zone-aware timestamps to plain UTC ones first: pyarrow imports pandas to convert the former.
    zoned = [f.name for f in table.schema if pa.types.is_timestamp(f.type) and f.type.tz is not None]
    table = table.cast(pa.schema([pa.field(f.name, pa.timestamp(f.type.unit)) if f.name in zoned else f
                                  for f in table.schema]))
    rows = table.to_pylist()
    for row in rows:
        for name in zoned:
            if row[name] is not None:
                row[name] = row[name].replace(tzinfo=UTC)
    return [{c: row.get(c) for c in columns} for row in rows]


def scan(dt: DeltaTable, columns: list[str]) -> pa.Table:
    """`SELECT columns FROM dt` with delta-rs's own engine (DataFusion).

    Not `to_pyarrow_table`: its pyarrow dataset scanner leaves threads that now and then abort the
    interpreter at exit ("terminate called without an active exception", exit code 134)."""
    from deltalake import QueryBuilder

    select = ", ".join('"' + c.replace('"', '""') + '"' for c in columns) or "count(*) AS n"
    return arrow(QueryBuilder().register("t", dt).execute(f"SELECT {select} FROM t"))


def arrow(stream: Any) -> pa.Table:
    """A pyarrow Table from delta-rs's arro3 results (the Arrow C stream interface). Not `pa.table()`,
    which imports pandas first (seconds, for nothing here)."""
    import pyarrow as pa

    return pa.RecordBatchReader.from_stream(stream).read_all()


def row_count(dt: DeltaTable) -> int:
    """Rows of the table's current version: the `numRecords` stats of its files in the Delta log;
    read from the data when a file was written without stats."""
    import pyarrow.compute as pc

    actions = arrow(dt.get_add_actions(flatten=True))
    if actions.num_rows == 0:
        return 0
    if "num_records" in actions.column_names and actions.column("num_records").null_count == 0:
        return int(pc.sum(actions.column("num_records")).as_py() or 0)
    return int(scan(dt, []).column("n")[0].as_py())


def table_counts(settings: Settings) -> list[tuple[str, str, int]]:
    """(layer, table, rows) of every Delta table of the lake; the configured layers first."""
    from regulake.catalog import discover_tables

    found = discover_tables(settings.lake_root)
    order = [*settings.layers, *sorted(set(found) - set(settings.layers))]
    tables = [(layer, table) for layer in order for table in sorted(found.get(layer, []))]

    def count(entry: tuple[str, str]) -> tuple[str, str, int]:
        dt = open_table(settings, *entry)
        return (*entry, row_count(dt) if dt is not None else 0)

    with ThreadPoolExecutor(max_workers=_THREADS) as pool:
        return list(pool.map(count, tables))


# --- what the rows say (pure) ---------------------------------------------------------------


def held_back(verdicts: Iterable[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """(feed_id, batch_date) of every delivery whose latest gate verdict is `held`, sorted.

    The definition of `jobs.silver.job.held_deliveries` on rows of `audit.gate_result` (dicts) instead
    of a Spark frame: that module imports Great Expectations (~15 s), too much for `regulake status`,
    so the definition is written twice; tests/apps/test_status.py checks both agree on one table."""
    latest: dict[tuple[str, str], Mapping[str, Any]] = {}
    for row in verdicts:
        key = (row["feed_id"], row["delivery_id"])
        if key not in latest or _later(row["evaluated_at"], latest[key]["evaluated_at"]):
            latest[key] = row
    return sorted((r["feed_id"], r["batch_date"]) for r in latest.values() if r["outcome"] == HELD)


def _later(a: Any, b: Any) -> bool:
    return b is None or (a is not None and a > b)


def stage_outcome(stage_rows: Iterable[Mapping[str, Any]], run_id: str) -> dict[str, list[str]]:
    """{"ran": [...], "skipped": [...]}: the stages of `STAGES` with an `audit.stage_run` row of `run_id`
    ran; the others were skipped."""
    ran = {row["stage"] for row in stage_rows if row["run_id"] == run_id}
    return {"ran": [s for s in STAGES if s in ran], "skipped": [s for s in STAGES if s not in ran]}


def unfinished_run(stage_rows: Iterable[Mapping[str, Any]], runs: Iterable[Mapping[str, Any]],
                   after: datetime | None) -> str | None:
    """The id of the newest run that recorded stages after `after` but has no `audit.pipeline_run` row:
    a run that failed (or is running) before publish."""
    recorded = {row["run_id"] for row in runs}
    later = [row for row in stage_rows if row["run_id"] not in recorded
             and row["finished_at"] is not None and (after is None or row["finished_at"] > after)]
    return max(later, key=lambda row: row["finished_at"])["run_id"] if later else None


def batch_day(batch_date: str) -> date | None:
    try:
        return datetime.strptime(batch_date, "%Y%m%d").date()
    except (TypeError, ValueError):
        return None


def feed_freshness(log_rows: Iterable[Mapping[str, Any]], feeds: Iterable[str],
                   reference: date) -> list[dict[str, Any]]:
    """Per feed (the known ones, and any other in the log): the latest batch date loaded, its age in
    days on `reference`, and the delivery-log entries by status."""
    by_feed: dict[str, Counter] = {feed: Counter() for feed in feeds}
    latest: dict[str, str] = {}
    for row in log_rows:
        feed = row["feed_id"]
        by_feed.setdefault(feed, Counter())[row["status"]] += 1
        if row["status"] == "loaded" and row["batch_date"] and row["batch_date"] > latest.get(feed, ""):
            latest[feed] = row["batch_date"]
    result = []
    for feed in sorted(by_feed):
        day = batch_day(latest.get(feed))
        result.append({"feed_id": feed, "latest_loaded": latest.get(feed),
                       "age_days": (reference - day).days if day else None,
                       "deliveries": dict(sorted(by_feed[feed].items()))})
    return result


def deliveries_by_status(log_rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """[{status, deliveries, manifest_rows}] over the whole delivery log, by status."""
    counts: Counter = Counter()
    rows: Counter = Counter()
    for row in log_rows:
        counts[row["status"]] += 1
        rows[row["status"]] += int(row["manifest_rows"] or 0)
    return [{"status": s, "deliveries": counts[s], "manifest_rows": rows[s]} for s in sorted(counts)]


# --- the report ---------------------------------------------------------------------------


def lake_status(settings: Settings, today: date | None = None) -> dict[str, Any]:
    """Everything `regulake status` shows, as plain data (`--format json` prints it)."""
    from regulake import storage
    from regulake.feeds import feed_ids
    from regulake.stage_state import LAST_COMPLETE_RUN, silver_versions

    storage.configure(settings)
    log_rows = read_rows(settings, "audit", "delivery_log", ("feed_id", "batch_date", "status", "manifest_rows"))
    verdicts = read_rows(settings, "audit", "gate_result",
                         ("feed_id", "batch_date", "delivery_id", "outcome", "evaluated_at"))
    runs = read_rows(settings, "audit", "pipeline_run", ("run_id", "state", "as_of", "finished_at"))
    stage_rows = read_rows(settings, "audit", "stage_run", ("stage", "run_id", "finished_at"))
    last = max(runs, key=lambda r: (r["finished_at"] is not None, r["finished_at"] or 0)) if runs else None

    complete_path = f"{settings.lake_root}/{LAST_COMPLETE_RUN}"
    last_complete = json.loads(storage.read_text(complete_path)) if storage.exists(complete_path) else None
    run = None
    if last is not None:
        stages = stage_outcome(stage_rows, last["run_id"])
        nothing_new = None
        if not stages["ran"] and last_complete and last_complete.get("silver") == silver_versions(settings):
            nothing_new = last_complete["run_id"]
        run = {**last, "finished_at": _iso(last["finished_at"]), **stages, "silver_as_run_left_it": nothing_new}
    unfinished = unfinished_run(stage_rows, runs, last["finished_at"] if last else None)

    reference = _as_of(last) or today or _today(settings)
    tables = table_counts(settings)
    silver_rows = {table: rows for layer, table, rows in tables if layer == "silver"}
    feeds = feed_freshness(log_rows, feed_ids(), reference)
    for feed in feeds:
        feed["silver_rows"] = silver_rows.get(feed["feed_id"])
    layers: dict[str, dict[str, int]] = {}
    for layer, _, rows in tables:
        summary = layers.setdefault(layer, {"tables": 0, "rows": 0})
        summary["tables"] += 1
        summary["rows"] += rows
    return {
        "lake": settings.lake_root,
        "last_run": run,
        "unfinished_run": unfinished,
        "last_complete_run": last_complete and {k: last_complete.get(k) for k in ("run_id", "as_of")},
        "held": [list(entry) for entry in held_back(verdicts)],
        "deliveries": deliveries_by_status(log_rows),
        "freshness_reference": reference.isoformat(),
        "freshness_reference_is": "last run's as-of date" if _as_of(last) else "today",
        "feeds": feeds,
        "layers": layers,
        "tables": [(f"{layer}.{table}", rows) for layer, table, rows in tables],
    }


def _as_of(run: Mapping[str, Any] | None) -> date | None:
    try:
        return date.fromisoformat(str(run["as_of"])) if run else None
    except ValueError:
        return None


def _today(settings: Settings) -> date:
    """Today in the lake's session time zone (Asia/Shanghai by default)."""
    from zoneinfo import ZoneInfo

    zone = str((settings.spark.get("conf") or {}).get("spark.sql.session.timeZone", "Asia/Shanghai"))
    return datetime.now(tz=ZoneInfo(zone)).date()


def _iso(value: Any) -> str | None:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    return None if value is None else str(value)


# --- printing -----------------------------------------------------------------------------


def render(report: Mapping[str, Any], console: Console, tables: bool = False) -> None:
    """The report on a terminal, compactly (80 columns): a few lines, then one line per feed
    (`tables`: every table with its row count too)."""
    from rich import box
    from rich.table import Table

    def say(text: str) -> None:
        console.print(text, highlight=False, soft_wrap=True)

    say(f"[bold]Lake[/] {report['lake']}")
    run = report["last_run"]
    if run is None:
        say("Last run: none recorded in audit.pipeline_run")
    else:
        say(f"Last run {run['run_id']}  [bold]{run['state']}[/]")
        say(f"  as of {run['as_of']} · finished {run['finished_at']}")
        ran, skipped = run["ran"], run["skipped"]
        if not ran:
            say(f"  stages ran: none; skipped: all {len(skipped)} after promotion")
            say(f"  nothing new since run {run['silver_as_run_left_it']}" if run["silver_as_run_left_it"]
                else "  (inputs unchanged since they last ran)")
        else:
            say(f"  stages ran: {', '.join(ran)}")
            say(f"  skipped: {', '.join(skipped)} (inputs unchanged)" if skipped else "  skipped: none")
    if report["unfinished_run"]:
        say(f"  [yellow]later run {report['unfinished_run']} ran stages, did not publish[/]")
    held = report["held"]
    if held:
        names = ", ".join(f"{feed}/{batch}" for feed, batch in held)
        say(f"[red]Held back by the gate:[/] {names}")
    else:
        say("Held back by the gate: none")
    order = {status: n for n, status in enumerate(DELIVERY_STATUSES)}
    deliveries = ", ".join(
        f"{d['deliveries']} {d['status']}" + (f" ({d['manifest_rows']:,} rows)" if d["status"] == "loaded" else "")
        for d in sorted(report["deliveries"], key=lambda d: (order.get(d["status"], len(order)), d["status"])))
    say(f"Deliveries: {deliveries or 'none logged'}")
    layers = report["layers"]
    rows = sum(s["rows"] for s in layers.values())
    per_layer = ", ".join(f"{layer} {summary['tables']}" for layer, summary in layers.items())
    say(f"Tables: {per_layer or 'none'}; {rows:,} rows" + ("" if tables else " (--tables: each)"))

    extra = sorted({s for f in report["feeds"] for s in f["deliveries"]} - set(DELIVERY_STATUSES))
    statuses = [*DELIVERY_STATUSES, *extra]
    headers = {"loaded": "loaded", "duplicate": "dup", "rejected": "rej", "incomplete": "inc"}
    feeds = Table("silver table", "rows", "latest", "age", *[headers.get(s, s) for s in statuses],
                  box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1), title_justify="left",
                  title=f"Feeds: latest batch loaded, age at {report['freshness_reference']} "
                        f"({'as of the last run' if report['freshness_reference_is'] != 'today' else 'today'}), "
                        "log entries")
    for feed in report["feeds"]:
        count = feed["silver_rows"]
        feeds.add_row(f"silver.{feed['feed_id']}", "-" if count is None else f"{count:,}",
                      feed["latest_loaded"] or "-", "-" if feed["age_days"] is None else f"{feed['age_days']}d",
                      *[str(n) if (n := feed["deliveries"].get(s)) else "-" for s in statuses])
    feeds.columns[0].no_wrap = True
    for column in feeds.columns[1:]:
        column.justify = "right"
    console.print(feeds)
    if tables:
        every = Table("table", "rows", title="Tables", box=box.SIMPLE_HEAD, show_edge=False, title_justify="left")
        every.columns[1].justify = "right"
        for name, count in report["tables"]:
            every.add_row(name, f"{count:,}")
        console.print(every)
