"""What `regulake run` shows: one line per stage with counts; the detail in `<lake>/_logs/<run_id>.log`."""

from __future__ import annotations

import io
import re
from pathlib import Path

from rich.console import Console

from apps.run_view import RunView, describe, output_to

STAGE_LINE = re.compile(r"^[✓✗–·] (discover|landing|gate \+ silver|linking|dbt|risk|inspection|scorecards|publish) ")


def _view() -> tuple[RunView, io.StringIO]:
    screen = io.StringIO()
    return RunView(Console(file=screen, width=200, color_system=None)), screen


def test_a_run_prints_one_line_per_stage_with_its_counts_and_names_its_problems():
    view, screen = _view()
    view.task_running("discover_feeds", "manual__1")
    view.stage_summary("discover", None, {"feeds": ["samr_penalty", "tax_credit"], "landing": "/landing"})
    view.task_finished("discover_feeds", "success")
    deliveries = {
        "samr_penalty": [{"batch_date": "2024-01-31", "status": "loaded", "reason": None},
                         {"batch_date": "2024-02-29", "status": "rejected", "reason": "sha256_mismatch: part-0001.csv"}],
        "tax_credit": [{"batch_date": "2024-01-31", "status": "loaded", "reason": None}],
    }
    for feed, found in deliveries.items():
        view.task_running("land_feed", "manual__1")
        view.stage_summary("landing", feed, {"deliveries": found, "unchanged": 1, "rows_landed": 10,
                                             "rows_quarantined": 1})
        view.task_finished("land_feed", "success", feed_id=feed)
    view.task_running("promote_feed", "manual__1")
    view.stage_summary("promotion", "samr_penalty", {"promoted": ["2024-01-31"], "held": []})
    view.task_finished("promote_feed", "success", feed_id="samr_penalty")
    view.task_running("promote_feed", "manual__1")
    view.task_finished("promote_feed", "failed", "tax_credit 20240131 held back: 3 of 9 expectations failed",
                       feed_id="tax_credit")
    lines = screen.getvalue().splitlines()
    assert [line.split()[1] for line in lines if STAGE_LINE.match(line)] == ["discover", "landing", "gate"]
    assert "2 feeds under /landing" in lines[0]
    landing = next(line for line in lines if " landing " in line)
    assert "3 new deliveries (2 loaded, 1 rejected)" in landing and "20 rows landed, 2 quarantined" in landing
    assert "2 seen before" in landing
    assert any("samr_penalty 2024-02-29 rejected: sha256_mismatch" in line for line in lines), lines
    promotion = next(line for line in lines if line.startswith("✗ gate + silver"))
    assert "1 deliveries promoted" in promotion and "1 feeds held back by the gate" in promotion
    assert any("tax_credit: tax_credit 20240131 held back" in line for line in lines), lines


def test_stages_skipped_by_a_trigger_rule_get_their_line_in_order():
    view, screen = _view()
    view.task_running("link_entities", "manual__1")
    view.stage_summary("linking", None, {"skipped": "nothing new: silver is as run r1 left it"})
    view.task_finished("link_entities", "skipped")
    view.task_running("publish", "manual__1")  # dbt … scorecards never started: skipped with linking
    view.stage_summary("publish", None, {"report": "r.html", "charts": None, "held": []})
    view.task_finished("publish", "success")
    view.finish({"release_lease": "success"})
    labels = [line.split()[1] for line in screen.getvalue().splitlines() if STAGE_LINE.match(line)]
    assert labels[:6] == ["linking", "dbt", "risk", "inspection", "scorecards", "publish"], labels
    assert "skipped: nothing new: silver is as run r1 left it" in screen.getvalue()


def test_a_skipped_stage_says_why():
    view, _ = _view()
    stage = view.stages["dbt_build"]
    stage.summaries.append({"run_id": "r", "skipped": "inputs unchanged"})
    assert describe("dbt_build", stage) == "skipped: inputs unchanged"


def test_the_process_output_goes_to_the_log_file_and_the_view_to_the_terminal(tmp_path, capfd):
    import os
    import subprocess

    log = tmp_path / "run.log"
    with output_to(log) as terminal:
        os.write(1, b"from fd 1\n")
        subprocess.run(["sh", "-c", "echo from a child process >&2"], check=True)
        terminal.print("stage line")
    shown = capfd.readouterr()
    assert "stage line" in shown.err and "from fd 1" not in shown.out + shown.err
    assert log.read_text().splitlines() == ["from fd 1", "from a child process"]


def test_the_shared_pipeline_run_printed_a_short_view_and_logged_the_rest(pipeline_lake):
    """The run every end-to-end test reads (tests/conftest.py's pipeline_lake), as a person saw it."""
    shown = (pipeline_lake.parent / "run.out").read_text()
    lines = shown.splitlines()
    assert len(lines) < 30, shown
    stages = [line.split()[1] for line in lines if STAGE_LINE.match(line)]
    assert stages == ["discover", "landing", "gate", "linking", "dbt", "risk", "inspection", "scorecards", "publish"], \
        shown
    assert "WARN" not in shown and "XCom" not in shown and "Traceback" not in shown, shown
    assert lines[-3].startswith("pipeline succeeded") and lines[-2].startswith("  report: "), shown
    log = Path(lines[-1].removeprefix("  log: "))
    assert log.parent == pipeline_lake / "_logs" and log.name.startswith("manual__"), log
    detail = log.read_text()
    assert "starting Spark" in detail and "[DAG TEST] running task" in detail, detail[-2000:]
    assert "XCom not found" not in detail, "the lazy XCom sequence was iterated past its end"


def test_a_stage_without_feeds_shows_only_its_own_counts():
    view, screen = _view()
    view.task_running("scorecards", "manual__1")
    view.stage_summary("scorecards", None, {"skipped": False, "regions": 386, "departments": 114})
    view.task_finished("scorecards", "success")
    assert screen.getvalue().rstrip().endswith("386 regions, 114 departments"), screen.getvalue()


def test_long_lines_are_not_wrapped(tmp_path):
    view = RunView(Console(file=(screen := io.StringIO()), width=40, color_system=None))
    view.task_running("discover_feeds", "manual__1")
    view.stage_summary("discover", None, {"feeds": ["samr_penalty"], "landing": "/a/very/long/landing/root/" * 4})
    view.task_finished("discover_feeds", "success")
    assert len(screen.getvalue().splitlines()) == 1, screen.getvalue()


def test_rows_collected_from_a_department_database_are_counted_on_the_landing_line():
    view, screen = _view()
    view.task_running("land_feed", "manual__1")
    view.stage_summary("landing", "hrss_social_insurance", {
        "deliveries": [{"batch_date": "20240211", "status": "loaded", "reason": None}], "unchanged": 0,
        "rows_landed": 2, "rows_quarantined": 0, "collected": {"rows": 2, "table": "public.social_insurance_arrears"}})
    view.task_finished("land_feed", "success", feed_id="hrss_social_insurance")
    landing = next(line for line in screen.getvalue().splitlines() if " landing " in line)
    assert "1 new deliveries (1 loaded)" in landing and "2 rows collected from department databases" in landing
