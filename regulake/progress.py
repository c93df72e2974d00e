"""What each stage of a run did, told to whoever watches the run.

The DAG's tasks call `stage_done` with their job's summary. `regulake run` executes the DAG in its
own process (`dag.test`), and its run view (apps/run_view.py) subscribes with `watching`, so a person
sees one line per stage with its counts. A task run by the Airflow scheduler has no watcher: the
summary goes to the task log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

log = logging.getLogger(__name__)

Watcher = Callable[[str, "str | None", dict[str, Any]], None]
_watchers: list[Watcher] = []


@contextmanager
def watching(watcher: Watcher) -> Iterator[None]:
    """Call `watcher(stage, feed_id, summary)` for every stage that finishes in this process meanwhile."""
    _watchers.append(watcher)
    try:
        yield
    finally:
        _watchers.remove(watcher)


def stage_done(stage: str, summary: dict[str, Any] | None, feed_id: str | None = None) -> dict[str, Any]:
    """Tell the watchers (else the log) what `stage` did; returns the summary."""
    summary = summary or {}
    if not _watchers:
        log.info("%s%s done: %s", stage, f"[{feed_id}]" if feed_id else "", summary)
    for watcher in list(_watchers):
        try:
            watcher(stage, feed_id, summary)
        except Exception:  # noqa: BLE001 - a display problem must not fail the stage
            log.exception("the run view failed on %s", stage)
    return summary
