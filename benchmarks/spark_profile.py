"""Where a pipeline run's Spark time goes: jobs, SQL executions, scans and Delta commits per stage.

    .venv/bin/python benchmarks/spark_profile.py --event-log <file or folder> [--lake DIR] [--airflow-db FILE]

Reads one Spark application's event log (`spark.eventLog.enabled=true`, uncompressed; a single file or
Spark 4's rolling `eventlog_v2_<app>/events_<n>_<app>` folder) and sums per job group, the Airflow task
a job ran for (regulake/stage.py sets the group: `promote_feed[tax_credit]`, `dbt_build`, ...):

* Spark jobs (JobStart "Submission Time" → JobEnd "Completion Time"), the stages they ran and tasks;
* SQL executions (nested ones too: Delta's MERGE runs several) and the scans in their physical plans;
* Delta commits: the `commitInfo` of `<lake>/<layer>/<table>/_delta_log/<version>.json` written while the
  application ran.

A job without a group (dbt runs its models on threads of its own, which do not inherit the group) is
attributed by time to the Airflow task whose window holds it (the bare task_id: a mapped task's
map_index does not name its feed), else to "(no group)". Pure Python, no Spark: benchmarks/pipeline.py
calls `profile_run` after each run (`--profile`). Not named profile.py: scripts run from benchmarks/
have it first on sys.path, and PySpark's `import cProfile` would then load it as the standard
library's `profile`.
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

NO_GROUP = "(no group)"
JOB_START, JOB_END = "SparkListenerJobStart", "SparkListenerJobEnd"
STAGE_SUBMITTED, TASK_END = "SparkListenerStageSubmitted", "SparkListenerTaskEnd"
APP_START, APP_END = "SparkListenerApplicationStart", "SparkListenerApplicationEnd"
SQL_START = "org.apache.spark.sql.execution.ui.SparkListenerSQLExecutionStart"
SQL_END = "org.apache.spark.sql.execution.ui.SparkListenerSQLExecutionEnd"
# Task and stage events are most of a log's lines; of them only the stage id is needed, so they are
# matched with a regex instead of decoding their metrics. Events of no other name are skipped unparsed.
_LIGHT = {STAGE_SUBMITTED, TASK_END}
_PARSED = {JOB_START, JOB_END, APP_START, APP_END, SQL_START, SQL_END}
_EVENT = re.compile(r'"Event"\s*:\s*"([^"]+)"')
_STAGE_ID = re.compile(r'"Stage ID"\s*:\s*(\d+)')
_COMPRESSED = (".lz4", ".lzf", ".snappy", ".zstd")
_COMMIT_FILE = re.compile(r"^\d{20}\.json$")
# Scan nodes of a physical plan: "(3) Scan parquet " (file sources: parquet, json, csv, text, ...),
# "Scan ExistingRDD" (a DataFrame made from an RDD or from Python data; Delta reads its log as
# "Scan ExistingRDD Delta Table State #4 - <table>/_delta_log"), "Scan <relation>" (other V1
# sources), "BatchScan <table>" (V2 sources), "FileScan" (older Sparks). Not counted: LocalTableScan
# (rows inlined in the plan), InMemoryTableScan (a cached frame), "Scan OneRowRelation" (SELECT
# without FROM): they read no storage.
_SCAN = re.compile(r"^(?:Scan|BatchScan|FileScan)\b")
_CODEGEN = re.compile(r"\s*\[codegen id : \d+\]\s*$")
_SECTION = re.compile(r"^\((\d+)\) (.+?)\s*$", re.M)
_LOCATION = re.compile(r"^Location: [^\[\n]*\[([^,\]\n]+)", re.M)


# --- the event log ---------------------------------------------------------------------------------


def log_files(path: Path) -> list[Path]:
    """The files of one application's event log, in order: the file itself, or a rolling log folder's
    events_<n>_* files, or the only application (file or folder) inside an eventLog.dir."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"no event log at {path}")
    rolled = [p for p in path.iterdir() if p.is_file() and p.name.startswith("events_")]
    if rolled:
        return sorted(rolled, key=lambda p: int(n) if (n := p.name.split("_")[1]).isdigit() else 0)
    apps = [p for p in path.iterdir() if not p.name.startswith(".")]
    if len(apps) != 1:
        raise ValueError(f"{path}: expected one Spark application's event log, found "
                         f"{sorted(p.name for p in apps) or 'none'}")
    return log_files(apps[0])


def read_events(files: Iterable[Path]) -> Iterator[dict]:
    """The events the profile needs, in log order; unreadable (partial last) lines are skipped."""
    for path in files:
        if path.name.endswith(_COMPRESSED):
            raise ValueError(f"{path} is compressed: run with spark.eventLog.compress=false")
        with open(path, encoding="utf-8", errors="replace") as lines:
            for line in lines:
                name = _EVENT.search(line[:200])
                if not name:
                    continue
                event = name.group(1)
                if event in _LIGHT:
                    stage = _STAGE_ID.search(line)
                    if stage:
                        yield {"Event": event, "Stage ID": int(stage.group(1))}
                elif event in _PARSED:
                    try:
                        yield json.loads(line)
                    except ValueError:  # the line an unfinished application was writing
                        continue


# --- plans ------------------------------------------------------------------------------------------


def plan_scans(description: str | None, plan_info: dict | None = None) -> list[tuple[str, str | None]]:
    """(kind, location) of every scan node of one SQL execution's physical plan, from the numbered node
    sections of physicalPlanDescription (each operator once, subqueries included; a reused exchange
    is not a second scan); from the sparkPlanInfo tree when there is no description."""
    scans = []
    sections = list(_SECTION.finditer(description or ""))
    for i, section in enumerate(sections):
        title = section.group(2)
        if not _SCAN.match(title) or "OneRowRelation" in title:
            continue
        body_end = sections[i + 1].start() if i + 1 < len(sections) else len(description)
        body = description[section.end():body_end]
        scans.append(_scan_kind_location(title, body))
    if not sections and plan_info:
        stack = [plan_info]
        while stack:
            node = stack.pop()
            name = str(node.get("nodeName", ""))
            if _SCAN.match(name) and "OneRowRelation" not in name:
                scans.append(_scan_kind_location(name, ""))
            stack.extend(node.get("children") or [])
    return scans


def _scan_kind_location(title: str, body: str) -> tuple[str, str | None]:
    title = _CODEGEN.sub("", title)
    if "Delta Table State" in title:  # Delta's cached snapshot of a table's transaction log
        where = title.split(" - ", 1)[1] if " - " in title else None
        return "delta log", where.split("/_delta_log")[0] if where else None
    found = _LOCATION.search(body)
    location = found.group(1).strip() if found else None
    if location and "/_delta_log" in location:  # Delta reading commit JSONs / checkpoints for a snapshot
        return "delta log", location.split("/_delta_log")[0]
    words = title.split()
    if words[0] == "BatchScan":  # a V2 source: the words after it name the table, not a format
        return "v2", location
    kind = "rdd" if words[1:2] == ["ExistingRDD"] else (words[1] if len(words) > 1 else words[0]).lower()
    return kind, location


def table_of(location: str | None, lake: Path | None) -> str | None:
    """<layer>/<table> for a path inside the lake (partition folders dropped), None outside it (the
    landing's files); without a lake the path itself."""
    if not location:
        return None
    path = re.sub(r"^file:/+", "/", location)
    if lake is None:
        return path
    try:
        parts = Path(path).relative_to(Path(lake).resolve()).parts
    except ValueError:
        return None
    return "/".join(parts[:2]) if len(parts) >= 2 else None


# --- Airflow task windows ---------------------------------------------------------------------------


def _ms(value) -> float | None:
    """An Airflow timestamp (datetime or ISO text; naive ones are UTC) as epoch milliseconds."""
    if value is None or value == "":
        return None
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp() * 1000


def task_windows(rows: Iterable[dict]) -> list[tuple[float, float, str]]:
    """(start ms, end ms, task_id) per task try; a try without an end is open-ended."""
    windows = set()
    for row in rows:
        start = _ms(row.get("start_date"))
        if start is None:
            continue
        end = _ms(row.get("end_date"))
        windows.add((start, end if end is not None else float("inf"), str(row["task_id"])))
    return sorted(windows)


def _in_window(when: float | None, windows: list[tuple[float, float, str]]) -> str | None:
    """The task whose window holds `when`; of overlapping ones the latest started."""
    if when is None:
        return None
    holding = [w for w in windows if w[0] <= when <= w[1]]
    return max(holding)[2] if holding else None


def airflow_task_rows(db: Path, since_ms: float | None = None, until_ms: float | None = None) -> list[dict]:
    """task_instance (and task_instance_history) rows of any DAG whose window overlaps [since, until] (the
    task that starts Spark starts before it): the CLI's stand-in for pipeline.py's task_rows, which knows
    the run ids."""
    rows: list[dict] = []
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        con.row_factory = sqlite3.Row
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        for table in ("task_instance", "task_instance_history"):
            if table in tables:
                rows += [dict(r) for r in con.execute(
                    f"SELECT task_id, map_index, try_number, start_date, end_date FROM {table}")]
    return [r for r in rows if (start := _ms(r.get("start_date"))) is not None
            and (until_ms is None or start <= until_ms)
            and (since_ms is None or (_ms(r.get("end_date")) or float("inf")) >= since_ms)]


# --- Delta commits ----------------------------------------------------------------------------------


def delta_commits(lake: Path, since_ms: float | None = None, until_ms: float | None = None) -> list[dict]:
    """{table, version, timestamp (ms), operation} of every commit under <lake>/<layer>/<table>/_delta_log
    within [since, until]; unreadable or partial commit files are skipped."""
    commits = []
    for path in sorted(Path(lake).glob("*/*/_delta_log/*.json")):
        if not _COMMIT_FILE.match(path.name):
            continue
        info = _commit_info(path)
        if info is None:
            continue
        when = info.get("inCommitTimestamp", info.get("timestamp"))
        if not isinstance(when, int | float):
            continue
        if (since_ms is not None and when < since_ms) or (until_ms is not None and when > until_ms):
            continue
        commits.append({"table": f"{path.parents[2].name}/{path.parents[1].name}", "version": int(path.stem),
                        "timestamp": when, "operation": str(info.get("operation") or "?")})
    return commits


def _commit_info(path: Path) -> dict | None:
    try:
        with open(path, encoding="utf-8") as lines:
            for line in lines:  # Delta writes commitInfo first; the scan stops there
                try:
                    action = json.loads(line)
                except ValueError:
                    continue
                if isinstance(action, dict) and isinstance(action.get("commitInfo"), dict):
                    return action["commitInfo"]
    except OSError:
        return None
    return None


# --- the profile ------------------------------------------------------------------------------------


def _new_group() -> dict:
    return {"jobs": 0, "job_seconds": 0.0, "busy_seconds": 0.0, "stages": 0, "tasks": 0,
            "sql_executions": 0, "scans": 0, "scan_kinds": Counter(), "commits": 0,
            "commit_operations": Counter(), "_intervals": []}


def _union_seconds(intervals: list[tuple[float, float]]) -> float:
    """Seconds covered by the intervals (ms): concurrent jobs (dbt's threads) counted once."""
    total, reach = 0.0, None
    for start, end in sorted(intervals):
        if reach is None or start > reach:
            total += end - start
            reach = end
        elif end > reach:
            total += end - reach
            reach = end
    return total / 1000


@dataclass
class _Log:
    """What the profile keeps of an event log: plans are reduced to their scans as they are read, so a
    large log streams through."""

    jobs: dict[int, dict] = field(default_factory=dict)
    executions: dict[int, dict] = field(default_factory=dict)
    stage_job: dict[int, int] = field(default_factory=dict)
    stage_runs: Counter = field(default_factory=Counter)
    stage_tasks: Counter = field(default_factory=Counter)
    span: list = field(default_factory=lambda: [None, None])


def profile_events(events: Iterable[dict], task_rows: Iterable[dict] | None = None,
                   commits: list[dict] | None = None, lake: Path | None = None) -> dict:
    """The profile of one application's events (see the module doc); JSON-serialisable."""
    return _summarise(_collect(events), task_rows, commits, lake)


def _collect(events: Iterable[dict]) -> _Log:
    log = _Log()
    jobs, executions, stage_job = log.jobs, log.executions, log.stage_job
    stage_runs, stage_tasks, span = log.stage_runs, log.stage_tasks, log.span
    last_seen = None
    for event in events:
        name = event["Event"]
        if name == JOB_START:
            props = event.get("Properties") or {}
            job_id = event["Job ID"]
            jobs[job_id] = {"start": event.get("Submission Time"), "end": None,
                            "group": props.get("spark.jobGroup.id") or None,
                            "execution": _int(props.get("spark.sql.execution.id"))}
            for stage in event.get("Stage IDs") or [s["Stage ID"] for s in event.get("Stage Infos", [])]:
                stage_job.setdefault(stage, job_id)  # a later job lists it again only as skipped
            last_seen = event.get("Submission Time") or last_seen
        elif name == JOB_END and event.get("Job ID") in jobs:
            jobs[event["Job ID"]]["end"] = event.get("Completion Time")
            last_seen = event.get("Completion Time") or last_seen
        elif name == STAGE_SUBMITTED:
            stage_runs[event["Stage ID"]] += 1
        elif name == TASK_END:
            stage_tasks[event["Stage ID"]] += 1
        elif name == SQL_START:
            executions[event["executionId"]] = {
                "start": event.get("time"), "end": None, "group": event.get("jobGroupId") or None,
                "scans": plan_scans(event.get("physicalPlanDescription"), event.get("sparkPlanInfo"))}
            last_seen = event.get("time") or last_seen
        elif name == SQL_END and event.get("executionId") in executions:
            executions[event["executionId"]]["end"] = event.get("time")
            last_seen = event.get("time") or last_seen
        elif name == APP_START:
            span[0] = event.get("Timestamp")
        elif name == APP_END:
            span[1] = event.get("Timestamp")
    span[1] = span[1] or last_seen  # an application that did not end cleanly
    return log


def _summarise(log: _Log, task_rows: Iterable[dict] | None, commits: list[dict] | None,
               lake: Path | None) -> dict:
    windows = task_windows(task_rows or [])
    jobs, executions, stage_job = log.jobs, log.executions, log.stage_job
    stage_runs, stage_tasks, span = log.stage_runs, log.stage_tasks, log.span
    # An execution's group: its own (Spark 4 records it), else that of a job it ran; a job's: its own,
    # else its execution's. What is still without one is placed by time.
    for job in jobs.values():
        execution = executions.get(job["execution"])
        if execution is not None and not execution["group"] and job["group"]:
            execution["group"] = job["group"]
    by_time = {"jobs": 0, "sql_executions": 0}
    for job in jobs.values():
        if not job["group"] and job["execution"] in executions:
            job["group"] = executions[job["execution"]]["group"]
    for kind, items in (("jobs", jobs), ("sql_executions", executions)):
        for item in items.values():
            if not item["group"]:
                item["group"] = _in_window(item["start"], windows) or NO_GROUP
                by_time[kind] += item["group"] != NO_GROUP

    groups: dict[str, dict] = {}
    for job in jobs.values():
        g = groups.setdefault(job["group"], _new_group())
        end = job["end"] if job["end"] is not None else span[1]
        g["jobs"] += 1
        if job["start"] is not None and end is not None:
            g["job_seconds"] += (end - job["start"]) / 1000
            g["_intervals"].append((job["start"], end))
    for stage, job_id in stage_job.items():
        if stage_runs[stage] or stage_tasks[stage]:
            g = groups[jobs[job_id]["group"]]
            g["stages"] += stage_runs[stage]
            g["tasks"] += stage_tasks[stage]
    scanned_tables: Counter = Counter()
    for execution in executions.values():
        g = groups.setdefault(execution["group"], _new_group())
        g["sql_executions"] += 1
        g["scans"] += len(execution["scans"])
        for kind, location in execution["scans"]:
            g["scan_kinds"][kind] += 1
            table = table_of(location, lake) if kind != "delta log" else None
            if table:
                scanned_tables[table] += 1

    # A commit belongs to the group of the latest-started execution running at its timestamp (the
    # Delta write's own), else to the Airflow task whose window holds it.
    commits = commits or []
    by_task: dict[str, Counter] = {}
    by_table: dict[str, Counter] = {}
    running = sorted((e["start"], e["end"] if e["end"] is not None else span[1] or e["start"], e["group"])
                     for e in executions.values() if e["start"] is not None and e["group"] != NO_GROUP)
    for commit in commits:
        when, op = commit["timestamp"], commit["operation"]
        task = _in_window(when, windows) or NO_GROUP
        by_task.setdefault(task, Counter())[op] += 1
        by_table.setdefault(commit["table"], Counter())[op] += 1
        group = _in_window(when, running) or task
        g = groups.setdefault(group, _new_group())
        g["commits"] += 1
        g["commit_operations"][op] += 1

    all_intervals = [i for g in groups.values() for i in g["_intervals"]]
    for g in groups.values():
        g["busy_seconds"] = round(_union_seconds(g.pop("_intervals")), 2)
        g["job_seconds"] = round(g["job_seconds"], 2)
        g["scan_kinds"] = dict(g["scan_kinds"].most_common())
        g["commit_operations"] = dict(g["commit_operations"].most_common())
    ordered = dict(sorted(groups.items(), key=lambda kv: (-kv[1]["job_seconds"], kv[0])))
    return {
        "span_ms": span,
        "wall_seconds": round((span[1] - span[0]) / 1000, 2) if span[0] and span[1] else None,
        "totals": {"jobs": len(jobs), "job_seconds": round(sum(g["job_seconds"] for g in groups.values()), 2),
                   "busy_seconds": round(_union_seconds(all_intervals), 2),
                   "stages": sum(stage_runs.values()), "tasks": sum(stage_tasks.values()),
                   "sql_executions": len(executions),
                   "scans": sum(len(e["scans"]) for e in executions.values()), "commits": len(commits)},
        "attributed_by_time": by_time,
        "groups": ordered,
        "scanned_tables": dict(scanned_tables.most_common()),
        "commits_by_task": {t: dict(c.most_common()) for t, c in by_task.items()},
        "commits_by_table": {t: dict(c.most_common()) for t, c in
                             sorted(by_table.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))},
    }


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def profile_run(event_log: Path, lake: Path | None = None, task_rows: Iterable[dict] | None = None,
                airflow_db: Path | None = None) -> dict:
    """The profile of one `regulake run`: its event log (file or folder), the lake's commits written
    while it ran, and its Airflow task windows (pipeline.py's task_rows, else the rows of airflow_db
    that started while the application ran)."""
    files = log_files(Path(event_log))
    log = _collect(read_events(files))
    start, end = log.span
    if task_rows is None and airflow_db is not None:
        task_rows = airflow_task_rows(airflow_db, start, end)
    lake = Path(lake).resolve() if lake is not None else None
    commits = delta_commits(lake, start, end) if lake is not None and start else []
    profile = _summarise(log, task_rows, commits, lake)
    profile["event_log"] = str(files[0].parent if len(files) > 1 else files[0])
    return profile


# --- Markdown -----------------------------------------------------------------------------------------


def _top(counts: dict, n: int = 3) -> str:
    items = sorted(counts.items(), key=lambda kv: -kv[1])
    text = ", ".join(f"{k} {v}" for k, v in items[:n])
    return text + (", …" if len(items) > n else "")


def _counted(total: int, counts: dict) -> str:
    return f"{total:,}" + (f" ({_top(counts)})" if total and counts else "")


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def task_totals(groups: dict) -> dict[str, dict]:
    """Job and busy seconds per Airflow task, the groups of a mapped task (`promote_feed[<feed>]`)
    summed: which stage is hot as a whole, most first. Its feeds run one after another, so their busy
    seconds add up."""
    tasks: dict[str, dict] = {}
    for name, g in groups.items():
        if name == NO_GROUP or not g["jobs"]:
            continue
        t = tasks.setdefault(name.split("[", 1)[0], {"job_seconds": 0.0, "busy_seconds": 0.0, "groups": 0})
        t["job_seconds"] += g["job_seconds"]
        t["busy_seconds"] += g["busy_seconds"]
        t["groups"] += 1
    return dict(sorted(tasks.items(), key=lambda kv: -kv[1]["job_seconds"]))


def render_profile(profile: dict, hot: int = 5) -> list[str]:
    """Markdown lines: one row per job group (job seconds descending), then the hot paths."""
    t, by_time = profile["totals"], profile.get("attributed_by_time", {})
    lines = [
        f"{t['jobs']:,} Spark jobs ({t['job_seconds']:,.1f} job-seconds, {t['stages']:,} stages, "
        f"{t['tasks']:,} tasks), {t['sql_executions']:,} SQL executions with {t['scans']:,} scans, "
        f"{_n(t['commits'], 'Delta commit')}; some job running {t.get('busy_seconds', 0):,.1f} s"
        + (f" of the application's {profile['wall_seconds']:,.1f} s" if profile.get("wall_seconds") else "")
        + "; without a job group, placed by the Airflow task's time window: "
        f"{by_time.get('jobs', 0):,} jobs, {by_time.get('sql_executions', 0):,} SQL executions.",
        "",
        "| job group | jobs | job s | busy s | stages / tasks | SQL executions | scans | Delta commits |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for name, g in profile["groups"].items():
        lines.append(f"| {name} | {g['jobs']:,} | {g['job_seconds']:,.1f} | {g['busy_seconds']:,.1f} | "
                     f"{g['stages']:,} / {g['tasks']:,} | {g['sql_executions']:,} | "
                     f"{_counted(g['scans'], g['scan_kinds'])} | "
                     f"{_counted(g['commits'], g['commit_operations'])} |")
    lines += ["", "Job s: submission to completion summed over the jobs (concurrent jobs overlap); busy s: "
              "the time at least one of them ran. Scans: scan nodes of the executions' physical plans "
              "(file sources, Delta log snapshots, in-memory rows as `rdd`).", "", "Hot paths:", ""]
    top = [(n, g) for n, g in profile["groups"].items() if g["jobs"]][:hot]
    for i, (name, g) in enumerate(top, 1):
        lines.append(f"{i}. {name}: {g['job_seconds']:,.1f} job-seconds in {_n(g['jobs'], 'job')}, "
                     f"{_n(g['sql_executions'], 'SQL execution')}, {_n(g['scans'], 'scan')}, "
                     f"{_n(g['commits'], 'Delta commit')}")
    if not top:
        lines.append("1. no Spark jobs")
    lines.append("")
    tasks = task_totals(profile["groups"])
    if tasks:
        lines.append("* Per Airflow task (a mapped task's feeds summed): " + "; ".join(
            f"{task} {t['job_seconds']:,.1f} job-s / {t['busy_seconds']:,.1f} busy s"
            + (f" over {t['groups']} groups" if t["groups"] > 1 else "")
            for task, t in list(tasks.items())[:hot]))
    tables = list(profile.get("commits_by_table", {}).items())[:hot]
    if tables:
        lines.append("* Most Delta commits: " + "; ".join(
            f"{table} {sum(ops.values())} ({_top(ops)})" for table, ops in tables))
    scanned = list(profile.get("scanned_tables", {}).items())[:hot]
    if scanned:
        lines.append("* Most scanned lake tables (data file scans): "
                     + "; ".join(f"{table} {n}" for table, n in scanned))
    by_task = profile.get("commits_by_task", {})
    if by_task:
        lines.append("* Delta commits per Airflow task: " + "; ".join(
            f"{task} {sum(ops.values())} ({_top(ops)})"
            for task, ops in sorted(by_task.items(), key=lambda kv: -sum(kv[1].values()))))
    lines.append("")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--event-log", type=Path, required=True, help="event log file, or its folder")
    parser.add_argument("--lake", type=Path, default=None, help="the lake, for its Delta commits")
    parser.add_argument("--airflow-db", type=Path, default=None,
                        help="Airflow's SQLite metadata DB: task windows for jobs without a group")
    parser.add_argument("--json", action="store_true", help="print the profile as JSON instead")
    args = parser.parse_args(argv)
    profile = profile_run(args.event_log, lake=args.lake, airflow_db=args.airflow_db)
    print(json.dumps(profile, indent=1, default=str) if args.json else "\n".join(render_profile(profile)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
