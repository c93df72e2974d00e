"""Whole-pipeline benchmark: full, incremental and nothing-new runs of the real CLI, against a raw-copy floor.

    .venv/bin/python benchmarks/pipeline.py --enterprises 100000 --batches 4       # or: make bench
    .venv/bin/python benchmarks/pipeline.py --enterprises 300 --batches 3          # a quick check
    make bench ENTERPRISES=200000                                                  # the next point of the curve

1. `regulake generate` into <out>/gen (timed apart, reused when <out>/gen already holds the same
   size and seed);
2. <out>/landing gets hard links of the first K-1 batch folders (`<feed>/<batch_date>/`); each run
   is `regulake run --landing <out>/landing --lake <out>/lake --as-of <its last batch date>` in its
   own process, on its own AIRFLOW_HOME (<out>/airflow, migrated before the clock starts):
   (a) full: K-1 batches on an empty lake; (b) incremental: batch K linked in, same lake;
   (c) nothing new: the same command again;
3. the floor: benchmarks/raw_copy_floor.py copies the same bytes into Delta in one Spark process
   (K-1 batches; batch K appended; all K batches afresh);
4. per run: wall time, seconds per Airflow task (task_instance rows of the run in the metadata DB,
   mapped instances and earlier tries summed), records (manifest `rows` of the batches the run
   adds) per second, ratio to the floor, peak RSS of the Python driver and of the JVM (the process
   tree polled every 0.5 s), load average before and after;
5. benchmarks/results/pipeline.json keeps one entry per size (enterprises × batches; an entry of
   the same size is replaced, --fresh starts over), pipeline.md and pipeline.svg (seconds per
   record against enterprises) are rendered from all entries;
6. the issue's targets are printed as PASS / FAIL lines (the exit code does not depend on them);
7. --profile (`make bench` passes it): each run writes a Spark event log into <out>/eventlog/<run>/ and
   benchmarks/spark_profile.py sums its jobs, SQL executions, scans and Delta commits per stage (job group)
   into the run's entry and a "Profile" table of pipeline.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from xml.sax.saxutils import escape

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RESULTS = PROJECT_ROOT / "benchmarks" / "results"
DAG_ID = "regulake_main"
GIB = 2**30
RUN_KINDS = ("full", "incremental", "nothing_new")
RUN_LABELS = {"full": "full (batches 1..K-1)", "incremental": "incremental (batch K)",
              "nothing_new": "nothing new (rerun)"}
FLOOR_PHASES = {"full": "full", "incremental": "increment", "nothing_new": None}
# The issue's targets.
FULL_OVER_FLOOR = 4.0
INCREMENTAL_OVER_FULL = 0.25
NOTHING_NEW_SECONDS = 60.0
MAX_RSS = 16 * GIB
FLATNESS = 0.25
_BATCH = re.compile(r"^\d{8}$")


def _load_profile():
    """benchmarks/spark_profile.py by path: benchmarks/ is a folder of scripts, not a package."""
    spec = importlib.util.spec_from_file_location("regulake_bench_spark_profile",
                                                  Path(__file__).with_name("spark_profile.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


profiling = _load_profile()


# --- the landing ----------------------------------------------------------------------------


def batch_dates(landing: Path) -> list[str]:
    """Every batch folder name (YYYYMMDD) under <landing>/<feed>/, sorted."""
    return sorted({b.name for feed in landing.iterdir() if feed.is_dir()
                   for b in feed.iterdir() if b.is_dir() and _BATCH.match(b.name)})


def split_batches(dates: list[str]) -> tuple[list[str], str]:
    """(the first K-1 batches, batch K)."""
    if len(dates) < 2:
        raise ValueError(f"need at least 2 batches to split, got {dates}")
    return dates[:-1], dates[-1]


def iso(batch: str) -> str:
    """20240131 -> 2024-01-31 (a run's --as-of)."""
    return date(int(batch[:4]), int(batch[4:6]), int(batch[6:8])).isoformat()


def link_batches(source: Path, target: Path, dates: Iterable[str]) -> int:
    """Hard-link (copy across file systems) <source>/<feed>/<date>/ into <target>; the files linked."""
    dates = set(dates)
    count = 0
    for feed in sorted(p for p in source.iterdir() if p.is_dir()):
        for folder in sorted(p for p in feed.iterdir() if p.is_dir() and p.name in dates):
            for path in sorted(folder.rglob("*")):
                if not path.is_file():
                    continue
                dest = target / path.relative_to(source)
                dest.parent.mkdir(parents=True, exist_ok=True)
                if dest.exists():
                    continue
                try:
                    os.link(path, dest)
                except OSError:
                    shutil.copy2(path, dest)
                count += 1
    return count


def manifest_rows(landing: Path, dates: Iterable[str]) -> int:
    """Sum of the manifests' `rows` over the given batch folders (a folder without a readable manifest: 0)."""
    dates = set(dates)
    total = 0
    for manifest in landing.glob("*/*/manifest.json"):
        if manifest.parent.name not in dates:
            continue
        try:
            files = json.loads(manifest.read_text(encoding="utf-8")).get("files") or []
            total += sum(int(f.get("rows") or 0) for f in files if isinstance(f, dict))
        except (ValueError, TypeError, AttributeError, OSError):
            continue
    return total


# --- processes -------------------------------------------------------------------------------


def run_measured(cmd: list[str], log_path: Path, env: dict[str, str] | None = None,
                 interval: float = 0.5) -> dict:
    """Run cmd (output into log_path), polling its process tree for RSS; wall time, exit code, peaks."""
    import psutil

    log_path.parent.mkdir(parents=True, exist_ok=True)
    peaks = {"python_driver": 0, "jvm": 0, "other": 0, "tree": 0, "max_process": 0, "max_process_name": ""}
    load_start = os.getloadavg()
    started = time.perf_counter()
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=PROJECT_ROOT)
        try:
            root = psutil.Process(proc.pid)
        except psutil.NoSuchProcess:
            root = None
        try:
            while proc.poll() is None:
                if root is not None:
                    _sample(root, peaks)
                time.sleep(interval)
        except BaseException:  # interrupted: take the run's process tree down with us
            _kill_tree(root, proc)
            raise
    wall = time.perf_counter() - started
    return {"wall_seconds": round(wall, 2), "exit_code": proc.returncode, "peak_rss": peaks,
            "load_start": [round(x, 2) for x in load_start],
            "load_end": [round(x, 2) for x in os.getloadavg()]}


def _kill_tree(root, proc) -> None:
    import psutil

    procs = []
    if root is not None:
        try:
            procs = [*root.children(recursive=True), root]
        except psutil.Error:
            pass
    for p in procs:
        try:
            p.kill()
        except psutil.Error:
            pass
    proc.wait()


def _sample(root, peaks: dict) -> None:
    import psutil

    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return
    tree = 0
    for p in procs:
        try:
            rss = p.memory_info().rss
            name = p.name()
        except psutil.Error:
            continue
        tree += rss
        kind = "python_driver" if p.pid == root.pid else "jvm" if "java" in name.lower() else "other"
        peaks[kind] = max(peaks[kind], rss)
        if rss > peaks["max_process"]:
            peaks["max_process"], peaks["max_process_name"] = rss, name
    peaks["tree"] = max(peaks["tree"], tree)


# --- profiling ---------------------------------------------------------------------------------


def event_log_env(folder: Path) -> dict[str, str]:
    """The settings (regulake's environment overrides of spark.conf) that make a run's Spark session
    write an uncompressed event log into folder, which must exist."""
    prefix = "REGULAKE__SPARK__CONF__"
    return {f"{prefix}spark.eventLog.enabled": "true",
            f"{prefix}spark.eventLog.dir": folder.resolve().as_uri(),
            f"{prefix}spark.eventLog.compress": "false"}


def profile_of(event_log: Path, lake: Path, rows: list[dict]) -> dict:
    """The run's profile (benchmarks/spark_profile.py), or {"error": why} when its event log is missing or
    unreadable: the timings stand without it."""
    try:
        return profiling.profile_run(event_log, lake=lake, task_rows=rows)
    except (OSError, ValueError, KeyError) as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}


# --- Airflow's metadata: seconds per task ---------------------------------------------------


def dag_runs(db: Path) -> dict[str, str]:
    """run_id -> state of every regulake_main run in the metadata DB."""
    if not db.exists():
        return {}
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        return dict(con.execute("SELECT run_id, state FROM dag_run WHERE dag_id = ?", (DAG_ID,)).fetchall())


def task_rows(db: Path, run_ids: Iterable[str]) -> list[dict]:
    """Every try of every task instance of the runs: the current rows and task_instance_history."""
    run_ids = list(run_ids)
    if not run_ids or not db.exists():
        return []
    marks = ",".join("?" * len(run_ids))
    rows: list[dict] = []
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        con.row_factory = sqlite3.Row
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        for table in ("task_instance", "task_instance_history"):
            if table not in tables:
                continue
            rows += [dict(r) for r in con.execute(
                f"SELECT task_id, map_index, try_number, state, start_date, end_date, duration FROM {table} "
                f"WHERE dag_id = ? AND run_id IN ({marks})", (DAG_ID, *run_ids))]
    return rows


def _when(value) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def stage_seconds(rows: Iterable[dict]) -> dict[str, dict]:
    """Per task_id, in order of first start: seconds (every mapped instance and try summed), instances
    (distinct map indexes), tries, span (first start to last end) and the final states."""
    stages: dict[str, dict] = {}
    seen: set[tuple] = set()
    for row in rows:
        key = (row["task_id"], row.get("map_index", -1), row.get("try_number"))
        if key in seen:  # the same try in task_instance and its history
            continue
        seen.add(key)
        start, end = _when(row.get("start_date")), _when(row.get("end_date"))
        seconds = row.get("duration")
        if seconds is None:
            seconds = (end - start).total_seconds() if start and end else 0.0
        stage = stages.setdefault(row["task_id"], {"seconds": 0.0, "indexes": set(), "tries": 0,
                                                   "first_start": None, "last_end": None, "states": {}})
        stage["seconds"] += float(seconds)
        stage["indexes"].add(row.get("map_index", -1))
        stage["tries"] += 1
        if start and (stage["first_start"] is None or start < stage["first_start"]):
            stage["first_start"] = start
        if end and (stage["last_end"] is None or end > stage["last_end"]):
            stage["last_end"] = end
        state = str(row.get("state"))
        stage["states"][state] = stage["states"].get(state, 0) + 1
    ordered = sorted(stages.items(), key=lambda kv: (kv[1]["first_start"] is None, kv[1]["first_start"] or 0))
    out = {}
    for task_id, s in ordered:
        span = (s["last_end"] - s["first_start"]).total_seconds() if s["first_start"] and s["last_end"] else None
        out[task_id] = {"seconds": round(s["seconds"], 2), "instances": len(s["indexes"]), "tries": s["tries"],
                        "span_seconds": round(span, 2) if span is not None else None, "states": s["states"]}
    return out


# --- figures, targets ------------------------------------------------------------------------


def derive(entry: dict) -> dict:
    """Records per second, seconds per record and the floor ratio of each run (in place; returns entry)."""
    floor = entry.get("floor", {}).get("phases", {})
    for kind, run in entry["runs"].items():
        wall, records = run["wall_seconds"], run["records"]
        run["records_per_second"] = round(records / wall, 1) if records and wall else None
        # nothing-new adds no record: its cost is per record of the landing it looks at
        per = records if records else run.get("landing_records", 0)
        run["seconds_per_record"] = wall / per if per and wall else None
        phase = FLOOR_PHASES.get(kind)
        floor_s = floor.get(phase, {}).get("seconds") if phase else None
        run["floor_ratio"] = round(wall / floor_s, 2) if floor_s else None
    for phase in floor.values():
        records = phase.get("records")
        phase["seconds_per_record"] = phase["seconds"] / records if records and phase.get("seconds") else None
    return entry


def _same_batches(entries: list[dict], batches: int) -> list[dict]:
    return sorted((e for e in entries if e["batches"] == batches), key=lambda e: e["enterprises"])


def check_targets(entry: dict, entries: list[dict]) -> list[dict]:
    """The issue's targets for this entry: [{name, ok (True / False / None = not measurable), detail}]."""
    runs = entry["runs"]
    floor = entry.get("floor", {}).get("phases", {})
    checks = []

    def add(name, ok, detail):
        checks.append({"name": name, "ok": ok, "detail": detail})

    failed = [k for k, r in runs.items() if r.get("exit_code") != 0]
    add("every run succeeded", not failed,
        "all exit 0" if not failed else "failed: " + ", ".join(f"{k} (exit {runs[k].get('exit_code')})" for k in failed))
    full, floor_full = runs["full"]["wall_seconds"], floor.get("full", {}).get("seconds")
    if floor_full:
        add(f"full ≤ {FULL_OVER_FLOOR:g}× floor", full <= FULL_OVER_FLOOR * floor_full,
            f"{full:,.1f} s vs floor {floor_full:,.1f} s = {full / floor_full:.1f}×")
    else:
        add(f"full ≤ {FULL_OVER_FLOOR:g}× floor", None, "no floor measured")
    inc = runs["incremental"]["wall_seconds"]
    add(f"incremental ≤ {INCREMENTAL_OVER_FULL:.0%} of full", inc <= INCREMENTAL_OVER_FULL * full,
        f"{inc:,.1f} s vs full {full:,.1f} s = {inc / full:.0%}" if full else f"{inc:,.1f} s")
    nothing = runs["nothing_new"]["wall_seconds"]
    add(f"nothing-new ≤ {NOTHING_NEW_SECONDS:g} s", nothing <= NOTHING_NEW_SECONDS, f"{nothing:,.1f} s")
    peaks = [(k, r["peak_rss"]) for k, r in runs.items()]
    if entry.get("floor", {}).get("peak_rss"):
        peaks.append(("floor", entry["floor"]["peak_rss"]))
    top_kind, top = max(peaks, key=lambda kp: kp[1].get("max_process", 0))
    add(f"no process above {MAX_RSS / GIB:g} GiB RSS", top.get("max_process", 0) <= MAX_RSS,
        f"largest {top.get('max_process', 0) / GIB:.2f} GiB ({top.get('max_process_name') or '?'}, {top_kind} run)")
    sizes = _same_batches(entries, entry["batches"])
    for kind in ("full", "incremental"):
        name = f"{kind}: seconds per record flat within ±{FLATNESS:.0%} across sizes"
        points = [(e["enterprises"], e["runs"][kind].get("seconds_per_record")) for e in sizes]
        points = [(n, s) for n, s in points if s]
        if len({n for n, _ in points}) < 2:
            add(name, None, f"one size so far ({entry['batches']} batches); run more sizes")
            continue
        (small_n, small), (large_n, large) = points[0], points[-1]
        change = large / small - 1
        add(name, abs(change) <= FLATNESS,
            f"{small * 1e6:,.0f} µs/record at {small_n:,} → {large * 1e6:,.0f} at {large_n:,} ({change:+.0%})")
    return checks


def target_lines(checks: list[dict]) -> list[str]:
    word = {True: "PASS", False: "FAIL", None: "SKIP"}
    return [f"{word[c['ok']]} {c['name']}: {c['detail']}" for c in checks]


def merge_entry(entries: list[dict], entry: dict) -> list[dict]:
    """entries with entry added; an earlier entry of the same size (enterprises, batches) is replaced."""
    kept = [e for e in entries if (e["enterprises"], e["batches"]) != (entry["enterprises"], entry["batches"])]
    return sorted([*kept, entry], key=lambda e: (e["batches"], e["enterprises"]))


# --- rendering -------------------------------------------------------------------------------


def _s(x, digits=1) -> str:
    return "–" if x is None else f"{x:,.{digits}f}"


def _gib(x) -> str:
    return "–" if not x else f"{x / GIB:.2f}"


def _load(run: dict) -> str:
    return f"{run['load_start'][0]:.1f} → {run['load_end'][0]:.1f}" if run.get("load_start") else "–"


def render_entry(entry: dict) -> list[str]:
    m, runs = entry["machine"], entry["runs"]
    floor = entry.get("floor", {})
    phases = floor.get("phases", {})
    dates = entry["batch_dates"]
    gen = entry.get("generate_seconds")
    lines = [
        f"## {entry['enterprises']:,} enterprises × {entry['batches']} batches (seed {entry['seed']})",
        "",
        f"* Run {entry['date']}: `{entry['command']}`",
        f"* Machine: {m['cores']} cores, {m['memory_gib']:g} GiB memory, {m['platform']}; load average (1/5/15 min) "
        f"{' / '.join(f'{x:.1f}' for x in m['load_start'])} at the start, "
        f"{' / '.join(f'{x:.1f}' for x in m['load_end'])} at the end"
        + (" (above the core count: timings are inflated)" if max(m["load_start"][1], m["load_end"][1]) > m["cores"]
           else ""),
        f"* Data: `regulake generate` {'in ' + _s(gen) + ' s' if gen is not None else 'reused'}, "
        f"{entry['generated_records']:,} records in batches {', '.join(dates)}; full run = {len(dates) - 1} "
        f"batches ({runs['full']['records']:,} records), incremental = batch {dates[-1]} "
        f"({runs['incremental']['records']:,} records)",
        "",
        "| run | as-of | records | wall s | records/s | µs/record | × floor | peak RSS python / JVM GiB | exit | load |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for kind in RUN_KINDS:
        r = runs[kind]
        spr = r.get("seconds_per_record")
        note = "" if r["records"] else " ¹"
        lines.append(
            f"| {RUN_LABELS[kind]} | {r['as_of']} | {r['records']:,} | {_s(r['wall_seconds'])} | "
            f"{_s(r.get('records_per_second'), 0)} | {_s(spr * 1e6 if spr else None, 0)}{note} | "
            f"{_s(r.get('floor_ratio'), 2)} | {_gib(r['peak_rss'].get('python_driver'))} / "
            f"{_gib(r['peak_rss'].get('jvm'))} | {r['exit_code']} | {_load(r)} |")
    for phase, label in (("full", "floor: copy batches 1..K-1"), ("increment", "floor: append batch K"),
                         ("all", "floor: copy all K batches")):
        p = phases.get(phase)
        if not p:
            continue
        spr = p.get("seconds_per_record")
        lines.append(
            f"| {label} | | {p.get('records', 0):,} | {_s(p['seconds'])} | "
            f"{_s(p['records'] / p['seconds'] if p.get('records') and p['seconds'] else None, 0)} | "
            f"{_s(spr * 1e6 if spr else None, 0)} | 1.00 | "
            f"{_gib(floor.get('peak_rss', {}).get('python_driver'))} / {_gib(floor.get('peak_rss', {}).get('jvm'))} | "
            f"{floor.get('exit_code', '')} | {_load(floor) if phase == 'full' else ''} |")
    lines += [
        "",
        "¹ nothing new adds no record: µs per record of the whole landing it looks at. Wall time is the "
        "whole `regulake run` process (Python and Airflow start, JVM start, every task). Floor seconds "
        f"exclude the floor process's JVM start and warm-up, the smallest file of each feed copied once ({_s(floor.get('startup_seconds'))} s; process wall "
        f"{_s(floor.get('wall_seconds'))} s); rows the floor wrote to Delta: "
        + ", ".join(f"{k} {v.get('rows_written', 0):,}" for k, v in phases.items()) + ".",
        "",
        "Seconds per Airflow task (task_instance start → end; mapped instances and retries summed):",
        "",
        "| task | " + " | ".join(RUN_LABELS[k] for k in RUN_KINDS) + " |",
        "|---|" + "---:|" * len(RUN_KINDS),
    ]
    tasks: list[str] = []
    for kind in RUN_KINDS:
        tasks += [t for t in runs[kind].get("stages", {}) if t not in tasks]
    for task in tasks:
        cells = []
        for kind in RUN_KINDS:
            s = runs[kind].get("stages", {}).get(task)
            if not s:
                cells.append("–")
                continue
            extra = []
            if s["instances"] > 1:
                extra.append(f"×{s['instances']}")
            bad = {k: v for k, v in s["states"].items() if k != "success"}
            if bad:
                extra.append(", ".join(f"{k} {v}" for k, v in bad.items()))
            cells.append(_s(s["seconds"]) + (f" ({'; '.join(extra)})" if extra else ""))
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    totals = [sum(s["seconds"] for s in runs[k].get("stages", {}).values()) for k in RUN_KINDS]
    lines.append("| **sum of tasks** | " + " | ".join(_s(t) for t in totals) + " |")
    lines += ["", "Targets:", ""]
    lines += [f"* {line}" for line in target_lines(entry.get("targets", []))]
    lines.append("")
    lines += render_profiles(runs)
    return lines


def render_profiles(runs: dict) -> list[str]:
    """A "Profile" subsection per run that has one (--profile): Spark work and Delta commits per stage."""
    lines: list[str] = []
    for kind in RUN_KINDS:
        prof = runs.get(kind, {}).get("profile")
        if not prof:
            continue
        lines += [f"### Profile: {RUN_LABELS[kind]}", ""]
        if prof.get("error"):
            lines += [f"No profile: {prof['error']}", ""]
            continue
        lines += profiling.render_profile(prof)
    return lines


def render_markdown(entries: list[dict], svg_name: str = "pipeline.svg") -> str:
    lines = [
        "# Pipeline benchmark",
        "",
        "`benchmarks/pipeline.py` (`make bench`): a full run of `regulake run` on K-1 generated monthly "
        "batches, an incremental run with batch K added to the same lake, and a rerun with nothing new, each "
        "a separate process on its own Airflow metadata DB; against a floor, `benchmarks/raw_copy_floor.py`, "
        "which copies the same landing files into one Delta table per feed with Spark's readers in one "
        "process (the same session settings). Records are the manifests' `rows` of the batches a run adds. "
        "Peak RSS: the largest resident size seen of the `regulake` Python process and of its `java` child, "
        "polled every 0.5 s. Generated by the script; one section per size, accumulated in pipeline.json.",
        "",
    ]
    for entry in sorted(entries, key=lambda e: (e["batches"], e["enterprises"])):
        lines += render_entry(entry)
    lines += ["## Cost curve", "", f"![seconds per record against enterprises]({svg_name})", "",
              "| batches | enterprises | " + " | ".join(f"{RUN_LABELS[k]} µs/record" for k in RUN_KINDS)
              + " | floor µs/record |",
              "|---:|---:|" + "---:|" * (len(RUN_KINDS) + 1)]
    for entry in sorted(entries, key=lambda e: (e["batches"], e["enterprises"])):
        cells = [_s(entry["runs"][k]["seconds_per_record"] * 1e6 if entry["runs"][k].get("seconds_per_record")
                    else None, 0) for k in RUN_KINDS]
        fspr = entry.get("floor", {}).get("phases", {}).get("full", {}).get("seconds_per_record")
        cells.append(_s(fspr * 1e6 if fspr else None, 0))
        lines.append(f"| {entry['batches']} | {entry['enterprises']:,} | " + " | ".join(cells) + " |")
    lines.append("")
    return "\n".join(lines)


def curve_series(entries: list[dict], batches: int) -> dict[str, list[tuple[int, float]]]:
    """Label -> [(enterprises, µs per record)] over the entries of that batch count."""
    series: dict[str, list[tuple[int, float]]] = {}
    for entry in _same_batches(entries, batches):
        for kind in RUN_KINDS:
            spr = entry["runs"][kind].get("seconds_per_record")
            if spr:
                series.setdefault(RUN_LABELS[kind], []).append((entry["enterprises"], spr * 1e6))
        fspr = entry.get("floor", {}).get("phases", {}).get("full", {}).get("seconds_per_record")
        if fspr:
            series.setdefault("floor (raw copy, batches 1..K-1)", []).append((entry["enterprises"], fspr * 1e6))
    return series


def _ticks(high: float, count: int = 5) -> list[float]:
    if high <= 0:
        return [0.0]
    raw = high / count
    magnitude = 10 ** int(f"{raw:e}".split("e")[1])
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return [i * step for i in range(int(high / step) + 2) if i * step <= high * 1.0001 or i == 0]


def render_svg(series: dict[str, list[tuple[int, float]]], title: str = "pipeline cost curve") -> str:
    """A minimal line chart: µs per record (y) against enterprises (x), one polyline per series."""
    width, height, left, right, top, bottom = 760, 420, 80, 250, 40, 60
    colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#7f7f7f", "#9467bd", "#8c564b"]
    points = [p for pts in series.values() for p in pts]
    x_high = max((x for x, _ in points), default=1) * 1.05 or 1
    y_high = max((y for _, y in points), default=1) * 1.1 or 1
    x_ticks, y_ticks = _ticks(x_high), _ticks(y_high)
    x_high, y_high = max(x_high, x_ticks[-1]), max(y_high, y_ticks[-1])
    plot_w, plot_h = width - left - right, height - top - bottom

    def px(x: float) -> float:
        return left + plot_w * x / x_high

    def py(y: float) -> float:
        return top + plot_h * (1 - y / y_high)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left}" y="22" font-size="15">{escape(title)}</text>']
    for t in y_ticks:
        out.append(f'<line x1="{left}" y1="{py(t):.1f}" x2="{left + plot_w}" y2="{py(t):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{py(t) + 4:.1f}" text-anchor="end">{t:,.4g}</text>')
    for t in x_ticks:
        out.append(f'<line x1="{px(t):.1f}" y1="{top + plot_h}" x2="{px(t):.1f}" y2="{top + plot_h + 5}" '
                   'stroke="#333"/>')
        out.append(f'<text x="{px(t):.1f}" y="{top + plot_h + 18}" text-anchor="middle">{t:,.0f}</text>')
    out.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#333"/>')
    out.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#333"/>')
    out.append(f'<text x="{left + plot_w / 2}" y="{height - 15}" text-anchor="middle">enterprises</text>')
    out.append(f'<text transform="translate(18 {top + plot_h / 2}) rotate(-90)" text-anchor="middle">'
               'µs per record (wall)</text>')
    for i, (label, pts) in enumerate(series.items()):
        color = colors[i % len(colors)]
        pts = sorted(pts)
        if len(pts) > 1:
            coords = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
            out.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{coords}"/>')
        for x, y in pts:
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="4" fill="{color}">'
                       f'<title>{escape(label)}: {x:,} enterprises, {y:,.1f} µs/record</title></circle>')
        ly = top + 10 + 20 * i
        out.append(f'<line x1="{width - right + 15}" y1="{ly}" x2="{width - right + 40}" y2="{ly}" '
                   f'stroke="{color}" stroke-width="2"/>')
        out.append(f'<text x="{width - right + 46}" y="{ly + 4}">{escape(label)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def write_svg(series: dict[str, list[tuple[int, float]]], path: Path) -> str:
    """plotly's static export when kaleido is installed, else the hand-built chart; returns which."""
    try:
        import kaleido  # noqa: F401
        import plotly.graph_objects as go

        fig = go.Figure([go.Scatter(x=[x for x, _ in sorted(p)], y=[y for _, y in sorted(p)], name=label,
                                    mode="lines+markers") for label, p in series.items()])
        fig.update_layout(title="pipeline cost curve", xaxis_title="enterprises",
                          yaxis_title="µs per record (wall)", template="plotly_white")
        fig.write_image(str(path), format="svg")
        return "plotly"
    except Exception:  # noqa: BLE001 - no kaleido (or no browser for it): draw it by hand
        path.write_text(render_svg(series), encoding="utf-8")
        return "hand-built"


# --- the benchmark ---------------------------------------------------------------------------


def _machine(load_start, load_end) -> dict:
    import psutil

    return {"cores": os.cpu_count(), "memory_gib": round(psutil.virtual_memory().total / GIB, 1),
            "platform": f"{platform.system()} {platform.machine()}, Python {platform.python_version()}",
            "load_start": [round(x, 2) for x in load_start], "load_end": [round(x, 2) for x in load_end]}


def _command(argv: list[str] | None) -> str:
    args = sys.argv[1:] if argv is None else argv
    return " ".join(shlex.quote(a) for a in [".venv/bin/python", "benchmarks/pipeline.py", *args])


def _generate(regulake: Path, gen: Path, args, env) -> float | None:
    marker = gen / "generation.json"
    wanted = {"enterprises": args.enterprises, "batches": args.batches, "seed": args.seed}
    if marker.exists() and all(json.loads(marker.read_text()).get(k) == v for k, v in wanted.items()):
        print(f"reusing the landing generated in {gen}", flush=True)
        return None
    shutil.rmtree(gen, ignore_errors=True)
    started = time.perf_counter()
    subprocess.run([str(regulake), "generate", "--out", str(gen), "--enterprises", str(args.enterprises),
                    "--batches", str(args.batches), "--seed", str(args.seed), "--no-progress"],
                   check=True, cwd=PROJECT_ROOT, env=env)
    return round(time.perf_counter() - started, 2)


def _tail(path: Path, lines: int = 25) -> str:
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--enterprises", type=int, required=True)
    parser.add_argument("--batches", type=int, required=True, help="K ≥ 2 monthly batches")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None,
                        help="work folder (default /tmp/regulake-bench-pipeline/<enterprises>x<batches>)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where pipeline.{md,json,svg} go")
    parser.add_argument("--fresh", action="store_true", help="drop the sizes pipeline.json already holds")
    parser.add_argument("--profile", action="store_true",
                        help="a Spark event log per run; its jobs, scans and Delta commits per stage "
                        "go into the results")
    args = parser.parse_args(argv)
    if args.batches < 2:
        parser.error("--batches must be at least 2 (K-1 for the full run, 1 for the incremental)")
    out = (args.out or Path("/tmp/regulake-bench-pipeline") / f"{args.enterprises}x{args.batches}").resolve()
    out.mkdir(parents=True, exist_ok=True)
    python = Path(sys.executable)
    regulake = python.with_name("regulake")
    load_start = os.getloadavg()
    started_at = datetime.now()

    # Its own Airflow metadata DB: only this benchmark's runs, and no other session's on the same SQLite.
    env = {**os.environ, "REGULAKE__AIRFLOW__HOME": str(out / "airflow")}
    gen, landing, lake, floor_lake = out / "gen", out / "landing", out / "lake", out / "floor_lake"
    generate_seconds = _generate(regulake, gen, args, env)
    dates = batch_dates(gen / "landing")
    first, last = split_batches(dates)
    for folder in (landing, lake, floor_lake, out / "airflow", out / "logs", out / "eventlog"):
        shutil.rmtree(folder, ignore_errors=True)
    linked = link_batches(gen / "landing", landing, first)
    print(f"landing {landing}: {linked} files of batches {', '.join(first)}", flush=True)

    # Airflow's DB migration is set-up, not a run.
    subprocess.run([str(python), "-c", "from regulake.config import load_settings; "
                    "from apps.airflow_env import prepare_airflow; prepare_airflow(load_settings())"],
                   check=True, cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL)
    db = out / "airflow" / "airflow.db"

    print("floor: raw copy into Delta ...", flush=True)
    floor_json = out / "floor.json"
    floor = run_measured([str(python), str(PROJECT_ROOT / "benchmarks" / "raw_copy_floor.py"),
                          "--landing", str(gen / "landing"), "--lake", str(floor_lake),
                          "--batches", ",".join(first), "--last", last, "--json", str(floor_json)],
                         out / "logs" / "floor.log", env=env)
    if floor["exit_code"] == 0:
        floor.update(json.loads(floor_json.read_text()))
        for phase in floor["phases"].values():
            phase["records"] = manifest_rows(gen / "landing", phase["batches"])
        print(f"floor: {json.dumps({k: v['seconds'] for k, v in floor['phases'].items()})} s", flush=True)
    else:
        print(f"floor FAILED (exit {floor['exit_code']}):\n{_tail(out / 'logs' / 'floor.log')}", flush=True)
        floor["phases"] = {}

    runs: dict[str, dict] = {}
    for kind in RUN_KINDS:
        if kind == "incremental":
            link_batches(gen / "landing", landing, [last])
        present = batch_dates(landing)
        as_of = iso(present[-1])
        before = dag_runs(db)
        print(f"{kind}: regulake run --as-of {as_of} ...", flush=True)
        cmd = [str(regulake), "run", "--landing", str(landing), "--lake", str(lake), "--as-of", as_of]
        run_env, event_log = env, out / "eventlog" / kind
        if args.profile:
            event_log.mkdir(parents=True, exist_ok=True)
            run_env = {**env, **event_log_env(event_log)}
        run = run_measured(cmd, out / "logs" / f"{kind}.log", env=run_env)
        after = dag_runs(db)
        new = [r for r in after if r not in before]
        rows = task_rows(db, new)
        run.update({
            "kind": kind, "as_of": as_of, "command": " ".join(shlex.quote(c) for c in cmd),
            "landing_batches": present, "run_ids": new,
            "dag_state": ", ".join(str(after[r]) for r in new) or None,
            "records": 0 if kind == "nothing_new" else manifest_rows(landing, [last] if kind == "incremental"
                                                                       else first),
            "landing_records": manifest_rows(landing, present),
            "stages": stage_seconds(rows),
        })
        if args.profile:
            run["profile"] = profile_of(event_log, lake, rows)
        runs[kind] = run
        print(f"{kind}: {run['wall_seconds']:.1f} s, exit {run['exit_code']}, DAG {run['dag_state']}", flush=True)
        if run["exit_code"] != 0:
            print(_tail(out / "logs" / f"{kind}.log"), flush=True)

    entry = derive({
        "enterprises": args.enterprises, "batches": args.batches, "seed": args.seed,
        "date": started_at.strftime("%Y-%m-%d %H:%M"), "command": _command(argv),
        "machine": _machine(load_start, os.getloadavg()), "work_dir": str(out),
        "generate_seconds": generate_seconds, "generated_records": manifest_rows(gen / "landing", dates),
        "batch_dates": dates, "runs": runs, "floor": floor,
    })
    json_path = args.results / "pipeline.json"
    entries = [] if args.fresh or not json_path.exists() else json.loads(json_path.read_text())["entries"]
    entries = merge_entry(entries, entry)
    entry["targets"] = check_targets(entry, entries)
    args.results.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps({"entries": entries}, indent=1, ensure_ascii=False, default=str) + "\n",
                         encoding="utf-8")
    how = write_svg(curve_series(entries, args.batches), args.results / "pipeline.svg")
    (args.results / "pipeline.md").write_text(render_markdown(entries), encoding="utf-8")
    print(f"written {args.results / 'pipeline.md'}, pipeline.json ({len(entries)} sizes), pipeline.svg ({how})")
    print("\n".join(target_lines(entry["targets"])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
