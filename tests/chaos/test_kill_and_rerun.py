"""Crash injection: `regulake run` (the real DAG) SIGKILLed, whole process group, at N moments spread
over every stage, then one run to the end; the lake must be the uninterrupted run's.

The kill points come from the uninterrupted run of the same landing (the session's `pipeline_lake`):
its Delta commits in commit order, each stage's middle commit, and more spread over the run until
there are N (REGULAKE_CHAOS_KILLS, default 12). Run k is killed the moment the lake holds commit k
(polled every few milliseconds, so mostly between a Delta commit and the write that records it:
a bronze append before its delivery-log row, a silver MERGE before its accounting row). Each
restart resumes where the last run stopped, so the test costs about one run plus N restarts.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from regulake.stage_state import delta_version
from tests.pipeline import REGULAKE, delta_logs, pipeline_env, table_versions

pytestmark = [pytest.mark.chaos, pytest.mark.slow]

KILLS = int(os.environ.get("REGULAKE_CHAOS_KILLS", "12"))
POLL_SECONDS = 0.005
RUN_SECONDS = 1800
# Logs of runs, not data: one row per run (or per run of a stage), so a lake that saw N+1 runs has more.
PER_RUN_TABLES = {"audit.pipeline_run", "audit.stage_run", "audit.linking_run", "audit.query_log"}
# Columns that name the run or the moment that wrote a row (the gate's Data Docs page is a file named
# by the lake and the moment it was drawn); everything else must be equal.
RUN_COLUMNS = {"run_id", "_run_id", "processed_at", "evaluated_at", "quarantined_at", "accounted_at",
               "_ingested_at", "ingested_at", "_linked_at", "linked_at", "drawn_at", "fitted_at", "finished_at",
               "data_docs_path"}
# The DAG's stages in run order, and which one writes a table.
STAGES = ("landing", "gate", "silver", "accounting", "linking", "dbt", "risk", "inspection", "scorecards",
          "publish")
STAGE_OF = {"audit.delivery_log": "landing", "audit.record_copies": "silver", "audit.gate_result": "gate",
            "audit.quarantine": "gate", "audit.row_accounting": "accounting", "gold.entity_xref": "linking",
            "gold.enterprise_person": "linking", "gold.enterprise_risk_class": "risk", "gold.risk_model": "risk",
            "gold.risk_warning": "risk", "gold.inspection_plan": "inspection", "gold.efficacy_scorecard": "scorecards",
            "audit.pipeline_run": "publish"}


def stage_of(table: str) -> str:
    layer = table.split(".")[0]
    return STAGE_OF.get(table) or {"bronze": "landing", "silver": "silver", "gold": "dbt"}.get(layer, "other")


@dataclass(frozen=True, order=True)
class Commit:
    timestamp: int
    table: str
    version: int

    @property
    def stage(self) -> str:
        return stage_of(self.table)


def commits_in_order(lake: Path) -> list[Commit]:
    """Every Delta commit of the lake, in the order they were made (Delta's commitInfo timestamp)."""
    found = []
    for log in delta_logs(lake):
        table = f"{log.parent.parent.name}.{log.parent.name}"
        for path in log.glob("*.json"):
            if path.stem.isdigit():
                info = next(json.loads(line)["commitInfo"] for line in path.read_text().splitlines()
                            if line.startswith('{"commitInfo"'))
                found.append(Commit(int(info["timestamp"]), table, int(path.stem)))
    return sorted(found)


# Stages a restart resumes where the kill left them (each feed's delivery is its own unit of work), so
# a kill there costs little; a kill in dbt or later costs that whole stage again (dbt has no resume).
RESUMABLE = ("landing", "gate", "silver", "accounting")


def kill_positions(commits: list[Commit], count: int) -> list[int]:
    """The middle commit of each stage, then, until there are `count`, the commit of the resumable stages
    farthest from every one chosen (then of any stage, when those run out); positions in run order."""
    chosen = set()
    for stage in STAGES:
        positions = [i for i, commit in enumerate(commits) if commit.stage == stage]
        if positions:
            chosen.add(positions[len(positions) // 2])
    resumable = [i for i, commit in enumerate(commits) if commit.stage in RESUMABLE]
    while len(chosen) < min(count, len(commits)):
        candidates = [i for i in resumable if i not in chosen] or [i for i in range(len(commits)) if i not in chosen]
        chosen.add(max(candidates, key=lambda i: min(abs(i - c) for c in chosen)))
    return sorted(chosen)


def first_unreached(commits: list[Commit], start: int, lake: Path) -> Commit | None:
    """The first of commits[start:] the lake does not hold yet. Mapped tasks (one per feed) need not run
    in the uninterrupted run's order, so a restart may already be past a chosen commit of one feed:
    then the next one not reached takes its place."""
    return next((commit for commit in commits[start:]
                 if version_of(lake / commit.table.replace(".", "/")) < commit.version), None)


def version_of(table_path: Path) -> int:
    """The table's latest commit, -1 before its first (polled every few milliseconds: one listing)."""
    version = delta_version(None, str(table_path))
    return -1 if version is None else version


def run_until(landing: Path, lake: Path, point: Commit | None, log_file: Path) -> dict:
    """`regulake run` until the lake holds `point` (then SIGKILL to its process group) or to its end."""
    table_path = lake / point.table.replace(".", "/") if point else None
    with log_file.open("a") as log:
        log.write(f"\n===== regulake run, killed at {point} =====\n")
        log.flush()
        process = subprocess.Popen([REGULAKE, "run", "--landing", str(landing), "--lake", str(lake)],
                                   stdout=log, stderr=subprocess.STDOUT, env=pipeline_env(), start_new_session=True)
    started = time.monotonic()
    while process.poll() is None:
        if table_path is not None and version_of(table_path) >= point.version:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return {"killed": True, "seconds": round(time.monotonic() - started, 1)}
        if time.monotonic() - started > RUN_SECONDS:
            os.killpg(process.pid, signal.SIGKILL)
            pytest.fail(f"a run took over {RUN_SECONDS}s: {log_file.read_text()[-3000:]}")
        time.sleep(POLL_SECONDS)
    return {"killed": False, "seconds": round(time.monotonic() - started, 1), "returncode": process.returncode}


def _without_run_columns(frame):
    return frame.select(*sorted(c for c in frame.columns if c not in RUN_COLUMNS))


def table_differences(spark, reference: Path, chaos: Path, table: str) -> str | None:
    """None when the table holds the same rows in both lakes (run columns aside), else what differs."""
    from pyspark.sql import functions as F

    path = table.replace(".", "/")
    frames = [_without_run_columns(spark.read.format("delta").load(str(lake / path))) for lake in (reference, chaos)]
    if frames[0].columns != frames[1].columns:
        return f"columns {frames[0].columns} != {frames[1].columns}"
    # One pass per lake: the row count and an order-free sum of row hashes (a multiset fingerprint).
    digests = [frame.select(F.count(F.lit(1)), F.sum(F.xxhash64(F.to_json(F.struct(*frame.columns)))
                                                      .cast("decimal(38,0)"))).first()
               for frame in frames]
    if digests[0] == digests[1]:
        return None
    only_reference = frames[0].exceptAll(frames[1]).limit(3).collect()
    only_chaos = frames[1].exceptAll(frames[0]).limit(3).collect()
    return (f"{digests[0][0]} rows vs {digests[1][0]}; only uninterrupted: {only_reference}; "
            f"only after kills: {only_chaos}")[:3000]


def leftovers(lake: Path) -> list[str]:
    """Staging and temporary files a finished run must not leave behind."""
    staged = [p for p in (lake / ".staging").rglob("*") if p.is_file()] if (lake / ".staging").is_dir() else []
    temporary = [p for p in lake.rglob("*") if p.name.endswith((".partial", ".tmp")) or p.name == "_temporary"]
    return sorted(str(p.relative_to(lake)) for p in staged + temporary)


def test_a_run_killed_at_every_stage_ends_equal_to_an_uninterrupted_run(pipeline_landing, pipeline_lake, spark,
                                                                        tmp_path):
    commits = commits_in_order(pipeline_lake)
    positions = kill_positions(commits, KILLS)
    assert len(positions) >= KILLS
    assert {commits[i].stage for i in positions} == set(STAGES), "a stage has no kill point"
    lake, log_file = tmp_path / "lake", tmp_path / "runs.log"
    outcomes = []
    for position in positions:
        point = first_unreached(commits, position, lake)
        if point is None:
            outcomes.append((commits[position], {"killed": False, "passed_already": True}))
        else:
            outcomes.append((point, run_until(pipeline_landing, lake, point, log_file)))
    report = "\n".join(f"{point.stage:>10} {point.table} v{point.version}: {outcome}" for point, outcome in outcomes)
    print(f"kill points (lake {lake}):\n{report}")
    assert not [point for point, outcome in outcomes if "returncode" in outcome], \
        f"a run ended before its kill point:\n{report}"
    assert sum(outcome["killed"] for _, outcome in outcomes) >= KILLS, report
    killed = {point.stage for point, outcome in outcomes if outcome["killed"]}
    # The stages after linking run one after another; the feeds' landing and promotion interleave, so
    # a kill chosen in one of gate, silver MERGE or accounting may land in another of the three.
    assert killed >= {"landing", "linking", "dbt", "risk", "inspection", "scorecards", "publish"}, report
    assert len(killed & {"gate", "silver", "accounting"}) >= 2, report
    final = run_until(pipeline_landing, lake, None, log_file)
    assert final["returncode"] == 0, f"the run after the kills failed:\n{log_file.read_text()[-5000:]}"

    tables = set(table_versions(pipeline_lake)) - PER_RUN_TABLES
    assert set(table_versions(lake)) - PER_RUN_TABLES == tables
    differences = {table: found for table in sorted(tables)
                   if (found := table_differences(spark, pipeline_lake, lake, table)) is not None}
    assert differences == {}, "\n".join(f"{table}: {found}" for table, found in differences.items())

    def rows(query: str, table: str) -> list:
        return spark.sql(query, t=spark.read.format("delta").load(str(lake / table.replace(".", "/")))).collect()

    assert rows("SELECT feed_id, batch_date FROM {t} WHERE NOT reconciled", "audit.row_accounting") == []
    assert rows("SELECT feed_id, batch_date, count(*) FROM {t} GROUP BY feed_id, batch_date HAVING count(*) > 1",
                "audit.delivery_log") == [], "a delivery was logged twice"
    assert leftovers(lake) == []
