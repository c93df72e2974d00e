"""benchmarks/spark_profile.py on a synthetic event log and lake: no Spark.

The events copy the shape of a real Spark 4.1 event log (uncompressed, rolling: eventlog_v2_<app>/
events_<n>_<app>) written by a local session with job groups, a parquet round trip and a Delta MERGE.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .helpers import load_benchmark

prof = load_benchmark("spark_profile")
bench = load_benchmark("pipeline")

T = 1_800_000_000_000  # the application's start, epoch ms
SQL = "org.apache.spark.sql.execution.ui."
LAND, PROMOTE = "land_feed[tax_credit]", "promote_feed[tax_credit]"


def _iso(ms: int) -> str:
    """Airflow's task_instance text: naive UTC."""
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, UTC).replace(tzinfo=None).isoformat(sep=" ")


def _job(job_id, start, end, stages, group=None, execution=None):
    props = {"spark.rdd.scope": '{"id":"1","name":"collect"}', "spark.job.description": "x"}
    if group:
        props["spark.jobGroup.id"] = group
        props["spark.job.interruptOnCancel"] = "false"
    if execution is not None:
        props["spark.sql.execution.id"] = str(execution)
        props["spark.sql.execution.root.id"] = str(execution)
    infos = [{"Stage ID": s, "Stage Attempt ID": 0, "Stage Name": "x", "Number of Tasks": 1} for s in stages]
    return [{"Event": "SparkListenerJobStart", "Job ID": job_id, "Submission Time": T + start,
             "Stage Infos": infos, "Stage IDs": stages, "Properties": props},
            {"Event": "SparkListenerJobEnd", "Job ID": job_id, "Completion Time": T + end,
             "Job Result": {"Result": "JobSucceeded"}}]


def _stage(stage_id, tasks):
    submitted = {"Event": "SparkListenerStageSubmitted",
                 "Stage Info": {"Stage ID": stage_id, "Stage Attempt ID": 0},
                 "Properties": {"spark.jobGroup.id": "ignored"}}
    return ([submitted]
            + [{"Event": "SparkListenerTaskStart", "Stage ID": stage_id, "Task Info": {}}] * tasks
            + [{"Event": "SparkListenerTaskEnd", "Stage ID": stage_id, "Stage Attempt ID": 0,
                "Task Type": "ResultTask", "Task End Reason": {"Reason": "Success"},
                "Task Metrics": {"Executor Run Time": 5}}] * tasks)


def _plan(*nodes: str) -> str:
    """A formatted physical plan: the tree, then one numbered section per operator."""
    tree = "\n".join(f"+- {title} ({i})" for i, (title, _) in enumerate(map(_split, nodes), 1))
    sections = "\n\n".join(f"({i}) {title}\n{body}" for i, (title, body) in enumerate(map(_split, nodes), 1))
    return f"== Physical Plan ==\n{tree}\n\n\n{sections}\n\n"


def _split(node: str) -> tuple[str, str]:
    title, _, body = node.partition("\n")
    return title, body or "Output [1]: [id#1L]"


def _execution(execution_id, start, end, plan, group=None, root=None):
    return [{"Event": SQL + "SparkListenerSQLExecutionStart", "executionId": execution_id,
             "rootExecutionId": execution_id if root is None else root, "description": "x", "details": "",
             "physicalPlanDescription": plan,
             "sparkPlanInfo": {"nodeName": "ignored", "simpleString": "", "children": [], "metadata": {},
                               "metrics": []},
             "time": T + start, "modifiedConfigs": {}, "jobTags": [], "jobGroupId": group},
            {"Event": SQL + "SparkListenerSQLExecutionEnd", "executionId": execution_id, "time": T + end,
             "errorMessage": ""}]


def _events(lake: Path) -> list[dict]:
    landing_csv = "Scan csv \nOutput [2]: [a#1, b#2]\nBatched: false\n" \
                  "Location: InMemoryFileIndex [file:/landing/tax_credit/20240131/part-0001.csv]"
    bronze = f"Scan parquet \nBatched: true\nLocation: PreparedDeltaFileIndex [file:{lake}/bronze/tax_credit]"
    silver = (f"Scan parquet \nBatched: true\nLocation: TahoeBatchFileIndex [file:{lake}/silver/tax_credit/"
              f"_batch_date=20240131, file:{lake}/silver/tax_credit/_batch_date=20240229]")
    state = (f"Scan ExistingRDD Delta Table State #3 - file://{lake}/silver/tax_credit/_delta_log"
             " [codegen id : 1]")
    return [
        {"Event": "SparkListenerLogStart", "Spark Version": "4.1.4"},
        {"Event": "SparkListenerApplicationStart", "App Name": "regulake", "Timestamp": T, "User": "root"},
        {"Event": "SparkListenerExecutorAdded", "Timestamp": T + 10},
        # land_feed (window 1 s .. 4 s): one grouped job reading the landing's CSV
        *_execution(1, 1400, 3600, _plan("Project", landing_csv, "LocalTableScan"), group=LAND),
        *_job(0, 1500, 3500, [0], group=LAND, execution=1), *_stage(0, 2),
        # promote_feed (5 s .. 9 s): the execution has no group of its own (older Sparks): its jobs' it is;
        # job 2 lists stage 2 again, skipped; a nested execution reads the Delta log
        *_execution(2, 5400, 8000, _plan("BroadcastHashJoin", bronze, silver, "Scan OneRowRelation")),
        *_job(1, 5500, 6500, [1, 2], group=PROMOTE, execution=2), *_stage(1, 1), *_stage(2, 3),
        *_job(2, 6600, 7100, [2, 3], group=PROMOTE, execution=2), *_stage(3, 2),
        *_execution(3, 7000, 7800, _plan("Project", state), group=PROMOTE, root=2),
        # dbt_build (10 s .. 20 s): a job from a dbt thread (no group) and two concurrent grouped ones
        *_execution(4, 11900, 15100, _plan(silver)),
        *_job(3, 12000, 15000, [4], execution=4), *_stage(4, 1),
        *_job(5, 16000, 18000, [5], group="dbt_build"), *_stage(5, 1),
        *_job(6, 17000, 19000, [6], group="dbt_build"), *_stage(6, 1),
        # after every task: no group, no window
        *_job(4, 21000, 21200, [7]), *_stage(7, 1),
        {"Event": "SparkListenerApplicationEnd", "Timestamp": T + 22000},
    ]


def _rows() -> list[dict]:
    def row(task, start, end, map_index=-1):
        return {"task_id": task, "map_index": map_index, "try_number": 1, "state": "success",
                "start_date": _iso(T + start), "end_date": _iso(T + end), "duration": (end - start) / 1000}

    return [row("land_feed", 1000, 4000, 0), row("promote_feed", 5000, 9000, 0),
            row("dbt_build", 10000, 20000),
            row("dbt_build", 10000, 20000)]  # the same try in task_instance and its history


def _commit(lake: Path, table: str, version: int, when: int | None, operation: str, extra: str = "") -> None:
    log = lake / table / "_delta_log"
    log.mkdir(parents=True, exist_ok=True)
    lines = []
    if when is not None:
        info = {"timestamp": when, "operation": operation, "operationParameters": {},
                "engineInfo": "Apache-Spark/4.1.4"}
        lines.append(json.dumps({"commitInfo": info}))
    lines.append(json.dumps({"add": {"path": "part-0.parquet", "size": 1, "dataChange": True}}))
    (log / f"{version:020d}.json").write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")


def _lake(tmp_path: Path) -> Path:
    lake = tmp_path / "lake"
    _commit(lake, "bronze/tax_credit", 0, T - 100_000, "WRITE")  # an earlier run's: left out
    _commit(lake, "bronze/tax_credit", 1, T + 3000, "WRITE")  # in execution 1: land_feed[tax_credit]
    _commit(lake, "silver/tax_credit", 0, T + 6000, "CREATE TABLE")  # execution 2, grouped by its jobs
    _commit(lake, "silver/tax_credit", 1, T + 7500, "MERGE")  # nested execution 3
    _commit(lake, "gold/dim_enterprise", 0, T + 13000, "WRITE")  # ungrouped execution 4: dbt_build's window
    _commit(lake, "gold/dim_enterprise", 1, T + 19500, "OPTIMIZE", extra='{"add": {"pa')  # no execution
    _commit(lake, "gold/dim_enterprise", 2, None, "?")  # no commitInfo
    log = lake / "gold/dim_enterprise/_delta_log"
    (log / "00000000000000000003.json").write_text('{"commitI', encoding="utf-8")  # being written
    (log / "00000000000000000001.crc").write_text("{}", encoding="utf-8")
    (log / "_staged_commits").mkdir()
    return lake


def _write_log(folder: Path, events: list[dict], app: str = "local-1800000000000") -> Path:
    """Spark 4's rolling layout, split over two files, the second with a partial last line."""
    log = folder / f"eventlog_v2_{app}"
    log.mkdir(parents=True)
    lines = [json.dumps(e, separators=(",", ":")) for e in events]
    half = len(lines) // 2
    (log / f"events_1_{app}").write_text("\n".join(lines[:half]) + "\n", encoding="utf-8")
    (log / f"events_2_{app}").write_text("\n".join(lines[half:]) + '\n{"Event":"SparkListenerJobStart","Jo',
                                         encoding="utf-8")
    (log / f"appstatus_{app}").write_text("", encoding="utf-8")
    return log


@pytest.fixture
def run(tmp_path):
    lake = _lake(tmp_path)
    _write_log(tmp_path / "eventlog", _events(lake.resolve()))
    return tmp_path / "eventlog", lake


def test_jobs_stages_tasks_executions_and_scans_per_group(run):
    event_log, lake = run
    profile = prof.profile_run(event_log, lake=lake, task_rows=_rows())
    groups = profile["groups"]
    assert list(groups) == ["dbt_build", LAND, PROMOTE, prof.NO_GROUP]  # job seconds descending
    land = groups[LAND]
    assert (land["jobs"], land["job_seconds"], land["stages"], land["tasks"]) == (1, 2.0, 1, 2)
    assert (land["sql_executions"], land["scans"], land["scan_kinds"]) == (1, 1, {"csv": 1})
    promote = groups[PROMOTE]
    assert (promote["jobs"], promote["job_seconds"], promote["busy_seconds"]) == (2, 1.5, 1.5)
    assert (promote["stages"], promote["tasks"]) == (3, 6)  # stage 2 counted once, with its job 1
    assert promote["sql_executions"] == 2
    assert promote["scans"] == 3 and promote["scan_kinds"] == {"parquet": 2, "delta log": 1}
    # data scans in the lake: not the landing's CSV, not Delta's log
    assert profile["scanned_tables"] == {"silver/tax_credit": 2, "bronze/tax_credit": 1}
    assert profile["totals"] == {"jobs": 7, "job_seconds": 10.7, "busy_seconds": 9.7, "stages": 8,
                                 "tasks": 12, "sql_executions": 4, "scans": 5, "commits": 5}
    assert profile["wall_seconds"] == 22.0
    json.dumps(profile)  # goes into pipeline.json as it is


def test_jobs_without_a_group_go_to_the_task_whose_window_holds_them(run):
    event_log, lake = run
    profile = prof.profile_run(event_log, lake=lake, task_rows=_rows())
    dbt, nobody = profile["groups"]["dbt_build"], profile["groups"][prof.NO_GROUP]
    assert (dbt["jobs"], dbt["job_seconds"], dbt["stages"], dbt["tasks"]) == (3, 7.0, 3, 3)
    assert dbt["busy_seconds"] == 6.0  # 12..15 s and the overlapping 16..18 s, 17..19 s
    assert (dbt["sql_executions"], dbt["scans"]) == (1, 1)
    assert (nobody["jobs"], nobody["job_seconds"], nobody["sql_executions"]) == (1, 0.2, 0)  # after the tasks
    assert profile["attributed_by_time"] == {"jobs": 1, "sql_executions": 1}

    alone = prof.profile_run(event_log, lake=lake)  # no task windows
    assert list(alone["groups"]) == ["dbt_build", prof.NO_GROUP, LAND, PROMOTE]
    assert alone["groups"][prof.NO_GROUP]["jobs"] == 2
    assert alone["groups"][prof.NO_GROUP]["job_seconds"] == 3.2
    assert alone["attributed_by_time"] == {"jobs": 0, "sql_executions": 0}


def test_delta_commits_per_group_task_and_table(run):
    event_log, lake = run
    profile = prof.profile_run(event_log, lake=lake, task_rows=_rows())
    groups = profile["groups"]
    assert (groups[LAND]["commits"], groups[LAND]["commit_operations"]) == (1, {"WRITE": 1})
    assert groups[PROMOTE]["commit_operations"] == {"CREATE TABLE": 1, "MERGE": 1}
    assert groups["dbt_build"]["commit_operations"] == {"WRITE": 1, "OPTIMIZE": 1}
    assert profile["commits_by_task"] == {"land_feed": {"WRITE": 1},
                                          "promote_feed": {"CREATE TABLE": 1, "MERGE": 1},
                                          "dbt_build": {"WRITE": 1, "OPTIMIZE": 1}}
    assert profile["commits_by_table"] == {"gold/dim_enterprise": {"WRITE": 1, "OPTIMIZE": 1},
                                           "silver/tax_credit": {"CREATE TABLE": 1, "MERGE": 1},
                                           "bronze/tax_credit": {"WRITE": 1}}
    commits = prof.delta_commits(lake)  # no span: the earlier run's commit too; broken files skipped
    assert sorted((c["table"], c["version"], c["operation"]) for c in commits)[:2] == [
        ("bronze/tax_credit", 0, "WRITE"), ("bronze/tax_credit", 1, "WRITE")]
    assert len(commits) == 6
    assert prof.delta_commits(lake / "missing") == []


def test_markdown_leads_with_the_hottest_group(run):
    event_log, lake = run
    text = "\n".join(prof.render_profile(prof.profile_run(event_log, lake=lake, task_rows=_rows())))
    rows = [line for line in text.splitlines()
            if line.startswith("| ") and not line.startswith("| job group")]
    assert rows[0] == "| dbt_build | 3 | 7.0 | 6.0 | 3 / 3 | 1 | 1 (parquet 1) | 2 (WRITE 1, OPTIMIZE 1) |"
    assert rows[2] == (f"| {PROMOTE} | 2 | 1.5 | 1.5 | 3 / 6 | 2 | 3 (parquet 2, delta log 1) | "
                       "2 (CREATE TABLE 1, MERGE 1) |")
    assert "1. dbt_build: 7.0 job-seconds in 3 jobs, 1 SQL execution, 1 scan, 2 Delta commits" in text
    assert ("* Per Airflow task (a mapped task's feeds summed): dbt_build 7.0 job-s / 6.0 busy s; "
            "land_feed 2.0 job-s / 2.0 busy s; promote_feed 1.5 job-s / 1.5 busy s\n") in text
    assert "* Most Delta commits: gold/dim_enterprise 2 (WRITE 1, OPTIMIZE 1); silver/tax_credit 2" in text
    assert ("7 Spark jobs (10.7 job-seconds, 8 stages, 12 tasks), 4 SQL executions with 5 scans, "
            "5 Delta commits; some job running 9.7 s of the application's 22.0 s") in text


def test_scans_are_read_from_the_plan_sections(tmp_path):
    plan = _plan("Scan json \nLocation: DeltaLogFileIndex [file:/lake/silver/x/_delta_log/0000.json]",
                 "Scan parquet \nLocation: InMemoryFileIndex [file:/tmp/p]", "LocalTableScan",
                 "InMemoryTableScan", "BatchScan spark_catalog.gold.x", "Scan ExistingRDD")
    assert prof.plan_scans(plan) == [("delta log", "file:/lake/silver/x"), ("parquet", "file:/tmp/p"),
                                     ("v2", None), ("rdd", None)]
    tree = {"nodeName": "Project", "children": [{"nodeName": "Scan parquet ", "children": []},
                                                {"nodeName": "LocalTableScan", "children": []}]}
    assert prof.plan_scans("", tree) == [("parquet", None)]  # no description: the plan tree


def test_event_log_locations(tmp_path):
    single = tmp_path / "single" / "local-1"
    single.parent.mkdir()
    single.write_text("", encoding="utf-8")
    assert prof.log_files(single.parent) == [single]
    rolled = tmp_path / "rolled" / "eventlog_v2_local-2"
    rolled.mkdir(parents=True)
    for n in (10, 2, 1):
        (rolled / f"events_{n}_local-2").write_text("", encoding="utf-8")
    assert [p.name.split("_")[1] for p in prof.log_files(rolled.parent)] == ["1", "2", "10"]
    (tmp_path / "two").mkdir()
    for name in ("local-1", "local-2"):
        (tmp_path / "two" / name).write_text("", encoding="utf-8")
    with pytest.raises(ValueError, match="expected one"):
        prof.log_files(tmp_path / "two")
    packed = tmp_path / "packed" / "local-3.zstd"
    packed.parent.mkdir()
    packed.write_text("x", encoding="utf-8")
    with pytest.raises(ValueError, match="compress"):
        list(prof.read_events(prof.log_files(packed.parent)))


def test_the_benchmark_stores_and_renders_a_profile_per_run(run, tmp_path):
    event_log, lake = run
    env = bench.event_log_env(tmp_path / "ev")
    assert env["REGULAKE__SPARK__CONF__spark.eventLog.dir"] == (tmp_path / "ev").resolve().as_uri()
    assert env["REGULAKE__SPARK__CONF__spark.eventLog.compress"] == "false"
    runs = {"full": {"profile": bench.profile_of(event_log, lake, _rows())},
            "nothing_new": {"profile": bench.profile_of(tmp_path / "none", lake, [])}}
    assert runs["nothing_new"]["profile"]["error"].startswith("FileNotFoundError")
    text = "\n".join(bench.render_profiles(runs))
    assert "### Profile: full (batches 1..K-1)" in text and "| dbt_build | 3 | 7.0 |" in text
    assert "### Profile: nothing new (rerun)\n\nNo profile: FileNotFoundError" in text
    assert "incremental" not in text


def test_the_cli_takes_task_windows_from_the_airflow_db(run, tmp_path, capsys):
    import sqlite3

    event_log, lake = run
    db = tmp_path / "airflow.db"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE task_instance (task_id, map_index, try_number, start_date, end_date)")
        con.executemany("INSERT INTO task_instance VALUES (:task_id, :map_index, :try_number, :start_date, "
                        ":end_date)", _rows()[:3] + [
                            {**_rows()[0], "task_id": "discover_feeds", "start_date": _iso(T - 9000),
                             "end_date": _iso(T - 5000)}])  # ended before Spark started: not this run's
    windows = prof.task_windows(prof.airflow_task_rows(db, T, T + 22000))
    assert [w[2] for w in windows] == ["land_feed", "promote_feed", "dbt_build"]
    assert prof.main(["--event-log", str(event_log), "--lake", str(lake), "--airflow-db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "| dbt_build | 3 | 7.0 | 6.0 |" in out and "1. dbt_build:" in out


def test_task_totals_sum_a_mapped_tasks_feeds():
    def group(jobs, job_s, busy_s):
        return {"jobs": jobs, "job_seconds": job_s, "busy_seconds": busy_s}

    totals = prof.task_totals({"dbt_build": group(9, 5.0, 4.0), "promote_feed[a]": group(2, 3.0, 2.0),
                               "promote_feed[b]": group(1, 2.5, 2.5), prof.NO_GROUP: group(1, 9.0, 9.0)})
    assert totals == {"promote_feed": {"job_seconds": 5.5, "busy_seconds": 4.5, "groups": 2},
                      "dbt_build": {"job_seconds": 5.0, "busy_seconds": 4.0, "groups": 1}}
