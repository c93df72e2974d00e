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
from collections import Counter
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from regulake.delta_rows import open_table, read_rows, row_count

if TYPE_CHECKING:
    from rich.console import Console

    from regulake.config import Settings

# The stages of the main DAG after promotion that record an audit.stage_run row when they run
# (dags/regulake_main.py, in order; tests/apps/test_status.py checks the DAG still has them).
STAGES = ("link_entities", "dbt_build", "risk_classes", "inspection_plan", "scorecards")
DELIVERY_STATUSES = ("loaded", "duplicate", "rejected", "incomplete")  # jobs/landing/job.py
HELD = "held"  # jobs.silver.job.HELD
_THREADS = 8


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
