"""The conformance check accepts fresh generator output and reports exactly the planted defects."""

from __future__ import annotations

import hashlib
import json
import shutil

from synth.conformance import check_landing
from synth.generator import generate

SAMPLE_DEFECTS = {
    ("court_dishonest", "20240229", "row_count_mismatch"),
    ("env_penalty", "20240229", "sha256_mismatch"),
    ("samr_abnormal_list", "20240229", "missing_required_column"),
    ("sentiment", "20240229", "missing_manifest"),
}


def test_samples_show_exactly_their_planted_delivery_defects(samples_landing):
    problems = check_landing(samples_landing)
    assert {(p.feed_id, p.batch_date, p.code) for p in problems} == SAMPLE_DEFECTS
    assert len(problems) == len(SAMPLE_DEFECTS)


def test_fresh_output_conforms(small_run):
    assert check_landing(small_run.landing, small_run.truth) == []
    assert check_landing(small_run.out / "landing_resend", small_run.truth) == []


def test_defect_and_long_runs_conform(defect_run, long_run):
    assert check_landing(defect_run.landing, defect_run.truth) == []
    assert check_landing(long_run.landing, long_run.truth) == []


def test_without_truth_planted_delivery_defects_show_up(small_run):
    codes = {p.code for p in check_landing(small_run.landing)}
    assert {"sha256_mismatch", "row_count_mismatch", "missing_required_column", "missing_manifest"} <= codes


def _copy(run, tmp_path):
    landing = tmp_path / "landing"
    shutil.copytree(run.landing, landing)
    return landing


def test_unplanted_damage_is_reported(small_run, tmp_path):
    landing = _copy(small_run, tmp_path)
    part = landing / "samr_enterprise/20240131/part-0001.csv"
    part.write_bytes(part.read_bytes()[:-2] + b"X\n")
    (landing / "hotline_12345/20240331/manifest.json").unlink()
    codes = {(p.feed_id, p.batch_date, p.code) for p in check_landing(landing, small_run.truth)}
    assert ("samr_enterprise", "20240131", "sha256_mismatch") in codes
    assert ("hotline_12345", "20240331", "missing_manifest") in codes


def test_an_identifier_broken_behind_the_truths_back_is_reported(small_run, tmp_path):
    landing = _copy(small_run, tmp_path)
    folder = landing / "samr_annual_report/20240131"
    part = folder / "part-0001.csv"
    lines = part.read_text(encoding="utf-8").split("\n")
    uscc = lines[1].split(",")[0]
    assert len(uscc) == 18
    broken = uscc[:-1] + ("0" if uscc[-1] != "0" else "1")
    lines[1] = broken + lines[1][18:]
    data = "\n".join(lines).encode("utf-8")
    part.write_bytes(data)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["files"][0]["sha256"] = hashlib.sha256(data).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    problems = check_landing(landing, small_run.truth)
    assert [(p.feed_id, p.code, p.record_no) for p in problems] == [("samr_annual_report", "identifier_check", 1)]


def test_ten_thousand_enterprises_conform(tmp_path):
    # About 10 s on the 2-core machine (the brief's bound for an unmarked test is 60 s).
    run = generate(tmp_path / "out", 10_000, 3, seed=21, progress=False)
    assert check_landing(run.landing, run.truth) == []
