"""`regulake run --scheduler`: the main DAG run by the running Airflow scheduler, as in production.

`regulake run` alone runs the DAG in this process (`dag.test`). With `--scheduler` the run is
triggered in Airflow's metadata DB and executed by the scheduler and its executor (each task
its own process with the LocalExecutor); this process only waits and reports. It triggers through
Airflow's own CLI and reads the run's progress from the metadata DB, so it needs nothing but the
same AIRFLOW_HOME and DB.
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


def run_and_task_states(dag_id: str, run_id: str) -> tuple[str | None, dict[str, str]]:
    """The run's state and its task instances' (`task[map_index]` for mapped ones), read from the metadata
    DB in this process: an `airflow` CLI call per poll would import Airflow each time, about 3 CPU-seconds,
    and polling with two of them every 10 s took a third of this 2-core machine from the run it waits for."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        state = session.scalar(select(DagRun.state).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
        rows = session.execute(select(TaskInstance.task_id, TaskInstance.map_index, TaskInstance.state)
                               .where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)).all()
    return (None if state is None else str(state)), task_keys(rows)


def task_keys(rows) -> dict[str, str]:
    """(task_id, map_index, state) rows as `task` or `task[index]` -> state ("none" before it is queued)."""
    return {(task if index in (None, -1) else f"{task}[{index}]"): str(state or "none")
            for task, index, state in rows}


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
        found, tasks = run_and_task_states(dag_id, run_id)
        state = found or "queued"
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
