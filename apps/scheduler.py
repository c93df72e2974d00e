"""`regulake run --scheduler`: the main DAG run by the running Airflow scheduler, as in production.

`regulake run` alone runs the DAG in this process (`dag.test`). With `--scheduler` the run is
triggered in Airflow's metadata DB and executed by the scheduler and its executor (each task
its own process with the LocalExecutor); this process only waits and reports. It talks to
Airflow through Airflow's own CLI, so it needs nothing but the same AIRFLOW_HOME and DB.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger(__name__)
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
FINISHED = {"success", "failed"}


@dataclass(frozen=True)
class SchedulerRun:
    run_id: str
    state: str
    failed_tasks: list[str]
    seconds: float


def _airflow(*args: str) -> str:
    done = subprocess.run([AIRFLOW, *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"`airflow {' '.join(args)}` failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return done.stdout


def _json_rows(text: str) -> list[dict]:
    """The JSON array Airflow's `-o json` prints on one line (warnings may come before it)."""
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("[{") or line == "[]":
            return json.loads(line)
    return []


def task_states(dag_id: str, run_id: str) -> dict[str, str]:
    rows = _json_rows(_airflow("tasks", "states-for-dag-run", dag_id, run_id, "-o", "json"))
    states: dict[str, str] = {}
    for row in rows:
        task = row.get("task_id", "?")
        index = row.get("map_index")
        key = task if index in (None, -1, "-1", "") else f"{task}[{index}]"
        states[key] = str(row.get("state") or "none")
    return states


def run_state(dag_id: str, run_id: str) -> str | None:
    for row in _json_rows(_airflow("dags", "list-runs", dag_id, "-o", "json")):
        if row.get("run_id") == run_id:
            return str(row.get("state"))
    return None


def trigger_and_wait(dag_id: str, conf: dict, poll_seconds: float = 10.0,
                     timeout_seconds: float | None = None, report=log.info) -> SchedulerRun:
    """Serialize and unpause the DAG, trigger one run with `conf`, and wait until it finishes."""
    started = time.monotonic()
    _airflow("dags", "reserialize")  # the DAG is in the DB now, not after the processor's next pass
    _airflow("dags", "unpause", dag_id)
    run_id = f"regulake__{datetime.now(UTC):%Y%m%dT%H%M%S}"
    _airflow("dags", "trigger", dag_id, "--run-id", run_id, "--conf", json.dumps(conf))
    report(f"triggered {dag_id} run {run_id}; the scheduler runs it")
    last = ""
    while True:
        state = run_state(dag_id, run_id) or "queued"
        tasks = task_states(dag_id, run_id)
        counts = ", ".join(f"{n} {s}" for s, n in sorted(Counter(tasks.values()).items()))
        line = f"run {state}: {counts or 'no tasks yet'}"
        if line != last:
            report(line)
            last = line
        if state in FINISHED:
            failed = sorted(t for t, s in tasks.items() if s in ("failed", "upstream_failed"))
            return SchedulerRun(run_id, state, failed, time.monotonic() - started)
        if timeout_seconds is not None and time.monotonic() - started > timeout_seconds:
            raise TimeoutError(f"{dag_id} run {run_id} still {state} after {timeout_seconds:.0f}s: {counts}")
        time.sleep(poll_seconds)
