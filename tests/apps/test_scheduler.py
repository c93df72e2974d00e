"""`regulake run --scheduler` reports the run's task instances by their Airflow keys (the whole path,
trigger and wait on the scheduler, runs in tests/cluster)."""

from __future__ import annotations

from apps.scheduler import task_keys


def test_mapped_task_instances_are_told_apart_and_unqueued_ones_say_none():
    rows = [("discover_feeds", -1, "success"), ("land_feed", 0, "running"), ("land_feed", 1, None),
            ("publish", None, None)]
    assert task_keys(rows) == {"discover_feeds": "success", "land_feed[0]": "running", "land_feed[1]": "none",
                               "publish": "none"}
