"""What `regulake run` shows while the DAG runs in its process: one line per stage, with counts.

Everything else a run prints (Spark's JVM, Airflow's task logs, dbt, warnings) goes to the run's
log file, `<lake>/_logs/<run_id>.log`: the process's stdout and stderr are pointed at that file, so
output from child processes and the JVM lands there too, and the terminal keeps only this view.
`regulake run --verbose` leaves the terminal as it was and shows everything.

The view learns what happened from two places: Airflow's task listener hooks (a task started,
succeeded, failed, was skipped) and regulake.progress (the summary a stage's job returned).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from regulake import storage
from regulake.config import Settings

LOGS_DIR = "_logs"
# task id → (stage label, mapped over feeds); tasks not listed (the lease teardown) are not shown.
STAGES = {
    "discover_feeds": ("discover", False),
    "land_feed": ("landing", True),
    "promote_feed": ("gate + silver", True),
    "link_entities": ("linking", False),
    "dbt_build": ("dbt", False),
    "risk_classes": ("risk", False),
    "inspection_plan": ("inspection", False),
    "scorecards": ("scorecards", False),
    "publish": ("publish", False),
}
STAGE_OF_PROGRESS = {"discover": "discover_feeds", "landing": "land_feed", "promotion": "promote_feed",
                     "linking": "link_entities", "dbt": "dbt_build", "risk": "risk_classes",
                     "inspection": "inspection_plan", "scorecards": "scorecards", "publish": "publish"}
_MARK = {"success": "[green]✓[/]", "failed": "[red]✗[/]", "skipped": "[dim]–[/]", "upstream_failed": "[red]✗[/]"}


@dataclass
class StageState:
    label: str
    mapped: bool
    started: float | None = None
    finished: float | None = None
    state: str | None = None
    summaries: list[dict[str, Any]] = field(default_factory=list)
    feed_states: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    reported: bool = False


class RunView:
    """The stage lines of one run, printed as each stage finishes."""

    def __init__(self, console: Console):
        self.console = console
        self.stages = {task: StageState(label, mapped) for task, (label, mapped) in STAGES.items()}
        self.feeds: int | None = None
        self.run_id: str | None = None
        self.on_run_id = None

    # --- events -----------------------------------------------------------------------------
    def task_running(self, task_id: str, run_id: str) -> None:
        if self.run_id is None:
            self.run_id = run_id
            if self.on_run_id:
                self.on_run_id(run_id)
        stage = self.stages.get(task_id)
        if stage and stage.started is None:
            stage.started = time.monotonic()
            # A stage after promotion that never started before this one was skipped by its trigger rule.
            order = list(self.stages)
            for earlier in order[order.index("link_entities"):order.index(task_id)]:
                if self.stages[earlier].started is None and not self.stages[earlier].reported:
                    self.stages[earlier].state = "skipped"
                    self.report(earlier)

    def stage_summary(self, stage: str, feed_id: str | None, summary: dict[str, Any]) -> None:
        task_id = STAGE_OF_PROGRESS.get(stage)
        if task_id is None:
            return
        self.stages[task_id].summaries.append({**summary, "feed_id": feed_id} if feed_id else dict(summary))
        if stage == "discover":
            self.feeds = len(summary.get("feeds", []))

    def task_finished(self, task_id: str, state: str, error: str | None = None, feed_id: str | None = None) -> None:
        stage = self.stages.get(task_id)
        if stage is None:
            return
        if error:
            stage.problems.append(f"{feed_id}: {error}" if feed_id else error)
        if stage.mapped:
            stage.feed_states.append(state)
            states = stage.feed_states
            stage.state = "failed" if "failed" in states else "success" if "success" in states else "skipped"
            if self.feeds is not None and len(stage.feed_states) < self.feeds:
                return
        else:
            stage.state = state
        stage.finished = time.monotonic()
        self.report(task_id)

    def finish(self, states: dict[str, str]) -> None:
        """The states Airflow ended with ({task id: state}): stages that never ran (skipped or
        upstream_failed by a trigger rule) get their line too."""
        for task_id, stage in self.stages.items():
            if not stage.reported:
                stage.state = stage.state or states.get(task_id) or "not run"
                self.report(task_id)

    # --- lines ------------------------------------------------------------------------------
    def report(self, task_id: str) -> None:
        stage = self.stages[task_id]
        if stage.reported:
            return
        stage.reported = True
        seconds = f"{stage.finished - stage.started:5.0f}s" if stage.started and stage.finished else "      "
        mark = _MARK.get(stage.state or "", "[dim]·[/]")
        text = describe(task_id, stage)
        self.console.print(f"{mark} {stage.label:<13} {seconds}  {escape(text)}", highlight=False, soft_wrap=True)
        for problem in stage.problems[:8]:
            self.console.print(f"    [red]{escape(_one_line(problem, 160))}[/]", highlight=False, soft_wrap=True)
        if len(stage.problems) > 8:
            self.console.print(f"    … and {len(stage.problems) - 8} more (see the log)")


def _one_line(text: str, width: int) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= width else line[: width - 1] + "…"


def _count(n: Any) -> str:
    return f"{n:,}" if isinstance(n, int) else str(n)


def describe(task_id: str, stage: StageState) -> str:
    """The counts of one stage, in words."""
    summaries = stage.summaries
    if stage.state == "skipped" and not summaries:
        return "skipped"
    if stage.state in ("upstream_failed", "not run") and not summaries:
        return "not run: an earlier stage failed" if stage.state == "upstream_failed" else "not run"
    if task_id == "discover_feeds":
        first = summaries[0] if summaries else {}
        return f"{len(first.get('feeds', []))} feeds under {first.get('landing', '?')}"
    if task_id == "land_feed":
        deliveries = [{"feed_id": s.get("feed_id"), **d} for s in summaries for d in s.get("deliveries", [])]
        unchanged = sum(s.get("unchanged", 0) for s in summaries)
        stage.problems += [f"{d['feed_id']} {d.get('batch_date')} {d['status']}: {d.get('reason') or ''}"
                           for d in deliveries if d.get("status") in ("rejected", "incomplete")]
        collected = sum((s.get("collected") or {}).get("rows", 0) for s in summaries)
        from_databases = f" · {_count(collected)} rows collected from department databases" if collected else ""
        if not deliveries:
            return f"no new deliveries ({unchanged} seen before)" + from_databases
        statuses = Counter(d.get("status") for d in deliveries)
        rows = sum(s.get("rows_landed", 0) for s in summaries)
        quarantined = sum(s.get("rows_quarantined", 0) for s in summaries)
        by_status = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
        return (f"{len(deliveries)} new deliveries ({by_status}) · {_count(rows)} rows landed, "
                f"{_count(quarantined)} quarantined" + (f" · {unchanged} seen before" if unchanged else "")
                + from_databases)
    if task_id == "promote_feed":
        promoted = sum(len(s.get("promoted", [])) for s in summaries)
        feeds = len(summaries)
        held = len(stage.problems)
        text = f"{promoted} deliveries promoted to silver over {feeds} feeds"
        return text + (f" · {held} feeds held back by the gate" if held else "")
    summary = summaries[-1] if summaries else {}
    if summary.get("skipped"):
        reason = summary["skipped"]
        return f"skipped: {reason}" if isinstance(reason, str) else "skipped: inputs unchanged since the last run"
    if task_id == "link_entities":
        return (f"{_count(summary.get('linked_this_run', 0))} mentions linked this run of "
                f"{_count(summary.get('mentions', 0))} · {_count(summary.get('enterprises', 0))} enterprises")
    if task_id == "dbt_build":
        return (f"{summary.get('models', 0)} models, {summary.get('data_tests', 0)} data tests "
                f"({summary.get('passed', 0)} passed, {summary.get('warned', 0)} warned)")
    if task_id == "risk_classes":
        classes = " ".join(f"{k}={_count(v)}" for k, v in summary.get("by_class", {}).items())
        return (f"{_count(summary.get('enterprises', 0))} enterprises classified ({classes}) · "
                f"{_count(summary.get('warnings', 0))} warnings")
    if task_id == "inspection_plan":
        return f"{_count(summary.get('inspections', 0))} inspections drawn"
    if task_id == "scorecards":
        return ", ".join(f"{_count(v)} {k}" for k, v in summary.items() if k not in ("skipped", "feed_id")) or "written"
    if task_id == "publish":
        if summary.get("charts") is None:
            return "nothing it shows changed: public and the report kept"
        return f"public shows this run's gold · report written with {summary['charts']} charts"
    return stage.state or ""


class _Listener:
    """Airflow task listener hooks (airflow.sdk.listener) feeding a RunView."""

    def __init__(self, view: RunView):
        self.view = view

    @staticmethod
    def _feed(task_instance) -> str | None:
        return getattr(task_instance, "rendered_map_index", None) if getattr(task_instance, "map_index", -1) >= 0 \
            else None

    def on_task_instance_running(self, previous_state, task_instance):
        self.view.task_running(task_instance.task_id, task_instance.run_id)

    def on_task_instance_success(self, previous_state, task_instance):
        self.view.task_finished(task_instance.task_id, "success", feed_id=self._feed(task_instance))

    def on_task_instance_failed(self, previous_state, task_instance, error):
        self.view.task_finished(task_instance.task_id, "failed", _one_line(error or "failed", 300),
                                self._feed(task_instance))

    def on_task_instance_skipped(self, previous_state, task_instance):
        self.view.task_finished(task_instance.task_id, "skipped", feed_id=self._feed(task_instance))


def listener(view: RunView):
    """The listener object for `get_listener_manager().add_listener` (pluggy hook implementations)."""
    from airflow.sdk._shared.listeners import hookimpl

    target = _Listener(view)

    class Hooks:
        @hookimpl
        def on_task_instance_running(self, previous_state, task_instance):
            target.on_task_instance_running(previous_state, task_instance)

        @hookimpl
        def on_task_instance_success(self, previous_state, task_instance):
            target.on_task_instance_success(previous_state, task_instance)

        @hookimpl
        def on_task_instance_failed(self, previous_state, task_instance, error):
            target.on_task_instance_failed(previous_state, task_instance, error)

        @hookimpl
        def on_task_instance_skipped(self, previous_state, task_instance):
            target.on_task_instance_skipped(previous_state, task_instance)

    return Hooks()


@dataclass
class RunLog:
    """Where a run's detail goes: a local file, moved to `<lake>/_logs/<run_id>.log` once the run id is known
    (for an object-store lake, copied there when the run ends)."""

    settings: Settings
    path: Path

    @classmethod
    def start(cls, settings: Settings) -> RunLog:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        folder = Path(settings.lake_root) / LOGS_DIR if storage.is_local(settings.lake_root) \
            else settings.airflow_home / "logs" / "regulake_runs"
        folder.mkdir(parents=True, exist_ok=True)
        return cls(settings, folder / f"run-{stamp}-{os.getpid()}.log")

    def name_after(self, run_id: str) -> None:
        named = self.path.with_name(_file_name(run_id))
        os.replace(self.path, named)  # the open descriptors follow the file
        self.path = named

    @property
    def location(self) -> str:
        """Where a person finds it once the run has ended."""
        if storage.is_local(self.settings.lake_root):
            return str(self.path)
        return f"{self.settings.lake_root}/{LOGS_DIR}/{self.path.name}"

    def publish(self) -> None:
        if not storage.is_local(self.settings.lake_root):
            storage.write_text(self.location, self.path.read_text(encoding="utf-8", errors="replace"))


def _file_name(run_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_.+" else "_" for c in run_id) + ".log"


@contextmanager
def output_to(path: Path) -> Iterator[Console]:
    """Point this process's stdout and stderr (file descriptors 1 and 2, so the JVM and child processes
    too) at `path`; yields a console on the terminal's stderr. Restored on exit."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    terminal = os.fdopen(os.dup(saved[2]), "w", buffering=1, encoding="utf-8", errors="replace")
    with path.open("ab") as log:
        for fd in (1, 2):
            os.dup2(log.fileno(), fd)
    try:
        yield Console(file=terminal, stderr=True, width=shutil.get_terminal_size((120, 24)).columns)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, original in saved.items():
            os.dup2(original, fd)
            os.close(original)
        terminal.close()
