"""`regulake run --dry-run` (apps/dry_run.py) on tiny real landings and lakes.

The plan is landing's own classification (jobs.landing.job.classify_feed) over what the lake's
delivery log holds, read with delta-rs. One test lands with the real landing job (Spark) and checks
that the plan before and after says what the run then did; the others build the lake with delta-rs.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from rich.console import Console

from apps import dry_run
from jobs.landing.job import normalize_root
from jobs.landing.manifest import parse_manifest
from regulake.stage_state import LAST_COMPLETE_RUN
from tests.apps.test_status import DATA, append, at, data_rows, settings_for, verdict
from tests.jobs.landing.helpers import penalty_csv, penalty_row, write_delivery

FEED = "samr_penalty"


@pytest.fixture
def landing(tmp_path) -> Path:
    """samr_penalty: 20240301 good, 20240302 a file that no longer matches its manifest, 20240303 no
    manifest yet; and a folder that is no feed."""
    root = tmp_path / "landing"
    write_delivery(root, FEED, "20240301", {"part-0001.csv": penalty_csv(penalty_row(1), penalty_row(2))})
    bad = write_delivery(root, FEED, "20240302", {"part-0001.csv": penalty_csv(penalty_row(4))})
    (bad / "part-0001.csv").write_bytes(penalty_csv(penalty_row(5)))  # checksum no longer matches
    write_delivery(root, FEED, "20240303", {"part-0001.csv": penalty_csv(penalty_row(6))}, manifest=False)
    (root / "not_a_feed").mkdir()
    return root


def outcomes(plan: dry_run.DryRunPlan) -> dict[str, str]:
    return {d.folder: d.outcome for d in plan.deliveries}


def text(landing, settings, **options) -> str:
    buffer = io.StringIO()
    dry_run.dry_run(str(landing), settings, Console(file=buffer, width=100), **options)
    return buffer.getvalue()


def test_on_an_empty_lake_every_delivery_with_a_manifest_is_new(landing, tmp_path):
    settings = settings_for(tmp_path)
    plan = dry_run.plan(str(landing), settings)
    assert (plan.feeds, plan.ignored_folders) == ([FEED], ["not_a_feed"])
    # Only reading the files can reject 20240302: the dry run reads manifests, not files.
    assert outcomes(plan) == {"20240301": "new", "20240302": "new", "20240303": "incomplete"}
    first = plan.deliveries[0]
    assert (first.batch_date, first.manifest_rows, first.mode) == ("20240301", 2, "incremental")
    assert plan.stages_run and plan.stages_reason == "2 new deliveries to land and promote"
    assert not Path(settings.lake_root).exists()  # nothing written

    shown = text(landing, settings)
    assert "1 feeds, 3 delivery folders: 2 new, 0 unchanged" in shown
    assert "samr_penalty  20240301 2 · 20240302 1" in shown
    assert "samr_penalty/20240303  incomplete: missing_manifest" in shown
    assert "ignored (no schema): not_a_feed" in shown
    assert "would run: 2 new deliveries" in shown


def loaded_before(settings, landing: Path, run_id: str = "r1") -> str:
    """The lake after a complete run that loaded and promoted samr_penalty/20240301 from `landing`."""
    folder = landing / FEED / "20240301"
    delivery_id = parse_manifest((folder / "manifest.json").read_bytes(), FEED).delivery_id
    location = f"{normalize_root(str(landing))}/{FEED}/20240301"
    append(settings, "audit", "delivery_log", [
        {"feed_id": FEED, "batch_date": "20240301", "status": "loaded", "delivery_id": delivery_id,
         "location": location, "manifest_rows": 2, "mode": "incremental", "run_id": run_id}])
    append(settings, "audit", "gate_result", [verdict(FEED, "20240301", delivery_id, "promoted", at(1))])
    append(settings, "silver", FEED, data_rows(2), DATA)
    complete = Path(settings.lake_root) / LAST_COMPLETE_RUN
    complete.parent.mkdir(parents=True, exist_ok=True)
    complete.write_text(json.dumps({"run_id": run_id, "as_of": "2024-03-31", "silver": {FEED: 0}}))
    return delivery_id


def test_nothing_new_skips_the_stages_unless_asked(tmp_path):
    landing = tmp_path / "landing"
    write_delivery(landing, FEED, "20240301", {"part-0001.csv": penalty_csv(penalty_row(1), penalty_row(2))})
    settings = settings_for(tmp_path)
    loaded_before(settings, landing)
    append(settings, "audit", "gate_result", [verdict("env_penalty", "20240229", "e1", "held", at(2))])

    plan = dry_run.plan(str(landing), settings)
    assert outcomes(plan) == {"20240301": "unchanged"}
    assert plan.held == [("env_penalty", "20240229")] and plan.not_gated == []
    assert not plan.stages_run and plan.stages_reason.startswith("nothing new: silver is as run r1 left it")

    assert dry_run.plan(str(landing), settings, rebuild=True).stages_reason == "--rebuild asked for it"
    other_day = dry_run.plan(str(landing), settings, as_of="2024-04-30")
    assert other_day.stages_run and other_day.stages_reason == "as of 2024-04-30, run r1 built as of 2024-03-31"
    assert not dry_run.plan(str(landing), settings, as_of="2024-03-31").stages_run

    shown = text(landing, settings)
    assert "0 new, 1 unchanged" in shown and "would be skipped: nothing new" in shown
    assert "Held back by the gate: env_penalty/20240229" in shown

    append(settings, "silver", FEED, data_rows(1), DATA)  # silver moved since the last complete run
    moved = dry_run.plan(str(landing), settings)
    assert moved.stages_run and moved.stages_reason == "silver changed since run r1 built from it"


def test_a_resent_copy_is_a_duplicate(tmp_path):
    landing = tmp_path / "landing"
    write_delivery(landing, FEED, "20240301", {"part-0001.csv": penalty_csv(penalty_row(1), penalty_row(2))})
    settings = settings_for(tmp_path)
    loaded_before(settings, landing)
    resend = tmp_path / "landing_resend"
    shutil.copytree(landing / FEED, resend / FEED)
    plan = dry_run.plan(str(resend), settings)
    assert outcomes(plan) == {"20240301": "duplicate"}
    assert plan.deliveries[0].reason.startswith("already_loaded: same feed, batch date and checksums as ")
    assert not plan.stages_run  # a duplicate loads nothing


def test_the_plan_says_what_the_landing_job_then_does(spark, lake, landing, tmp_path):
    from jobs.landing import job as landing_job
    from tests.stages import context

    before = dry_run.plan(str(landing), lake)
    ran = landing_job.run(context(spark, lake, "run-1", landing=landing, feed_id=FEED))
    decided = {d["batch_date"]: d["status"] for d in ran["deliveries"]}
    assert decided == {"20240301": "loaded", "20240302": "rejected", "20240303": "incomplete"}
    # What the plan could tell without reading files, it told; the rest it called new.
    assert all(before_outcome in ("new", decided[folder]) for folder, before_outcome in outcomes(before).items())

    after = dry_run.plan(str(landing), lake)
    assert outcomes(after) == {"20240301": "unchanged", "20240302": "unchanged", "20240303": "unchanged"}
    assert [d.reason for d in after.deliveries] == ["loaded", "rejected", "incomplete"]
    assert after.not_gated == [(FEED, "20240301")]  # landed, promotion not run
    assert after.stages_run and after.stages_reason == "1 loaded deliveries not through the gate yet"

    resend = tmp_path / "landing_resend"
    shutil.copytree(landing / FEED / "20240301", resend / FEED / "20240301")
    assert outcomes(dry_run.plan(str(resend), lake)) == {"20240301": "duplicate"}
    resent = landing_job.run(context(spark, lake, "run-2", landing=resend, feed_id=FEED))
    assert [d["status"] for d in resent["deliveries"]] == ["duplicate"]
    assert outcomes(dry_run.plan(str(resend), lake)) == {"20240301": "unchanged"}


def test_a_missing_landing_root_is_an_error(tmp_path):
    from jobs.landing.job import LandingRootMissing

    with pytest.raises(LandingRootMissing):
        dry_run.plan(str(tmp_path / "nope"), settings_for(tmp_path))
