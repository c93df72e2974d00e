"""The pure parts of benchmarks/pipeline.py: no Spark, no pipeline run."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from .helpers import load_benchmark

bench = load_benchmark("pipeline")
floor = load_benchmark("raw_copy_floor")
data_files, safe_columns = floor.data_files, floor.safe_columns
GIB = 2**30


def _delivery(root: Path, feed: str, batch: str, rows: int | None, name: str = "part-0001.csv") -> None:
    folder = root / feed / batch
    folder.mkdir(parents=True)
    (folder / name).write_text("a,b\n1,2\n", encoding="utf-8")
    if rows is not None:
        manifest = {"feed_id": feed, "batch_date": batch, "files": [{"name": name, "rows": rows}]}
        (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def _landing(tmp_path: Path) -> Path:
    root = tmp_path / "gen" / "landing"
    _delivery(root, "samr_enterprise", "20240131", 10)
    _delivery(root, "samr_enterprise", "20240229", 11)
    _delivery(root, "samr_enterprise", "20240331", 12)
    _delivery(root, "tax_credit", "20240131", 5)
    _delivery(root, "tax_credit", "20240331", 7)
    _delivery(root, "coop_task_event", "20240229", None, "part-0001.jsonl")  # no manifest
    (root / "tax_credit" / "notes").mkdir()  # not a batch folder
    return root


def test_batches_split_into_the_first_k_minus_1_and_the_last(tmp_path):
    root = _landing(tmp_path)
    dates = bench.batch_dates(root)
    assert dates == ["20240131", "20240229", "20240331"]
    assert bench.split_batches(dates) == (["20240131", "20240229"], "20240331")
    assert bench.iso("20240229") == "2024-02-29"


def test_split_needs_two_batches():
    import pytest

    with pytest.raises(ValueError):
        bench.split_batches(["20240131"])


def test_linking_batches_builds_the_landing_in_two_steps(tmp_path):
    root = _landing(tmp_path)
    target = tmp_path / "landing"
    first, last = bench.split_batches(bench.batch_dates(root))
    assert bench.link_batches(root, target, first) == 7  # 3 deliveries with manifests ×2 files + 1 without
    assert bench.batch_dates(target) == first
    assert not (target / "tax_credit" / "20240331").exists()
    assert (target / "samr_enterprise" / "20240131" / "part-0001.csv").stat().st_nlink == 2  # hard link
    assert bench.link_batches(root, target, [last]) == 4
    assert bench.batch_dates(target) == ["20240131", "20240229", "20240331"]
    assert bench.link_batches(root, target, [last]) == 0  # already there


def test_records_are_the_manifest_rows_of_the_chosen_batches(tmp_path):
    root = _landing(tmp_path)
    assert bench.manifest_rows(root, ["20240131", "20240229"]) == 10 + 11 + 5
    assert bench.manifest_rows(root, ["20240331"]) == 12 + 7
    (root / "tax_credit" / "20240331" / "manifest.json").write_text("{not json", encoding="utf-8")
    assert bench.manifest_rows(root, ["20240331"]) == 12


def test_floor_reads_the_data_files_of_the_batches(tmp_path):
    root = _landing(tmp_path)
    files = data_files(root, "samr_enterprise", "csv", ["20240131", "20240331"])
    assert [f.parent.name for f in files] == ["20240131", "20240331"]
    assert data_files(root, "coop_task_event", "jsonl", ["20240229"])[0].name == "part-0001.jsonl"
    assert safe_columns(["\ufeff名称", "a b", "A_B", "", "x=1"]) == ["名称", "a_b", "A_B_2", "c3", "x_1"]


def _ti(task, start, end, map_index=-1, try_number=1, state="success", duration=None):
    return {"task_id": task, "map_index": map_index, "try_number": try_number, "state": state,
            "start_date": f"2024-05-01 10:{start}+00:00", "end_date": f"2024-05-01 10:{end}+00:00",
            "duration": duration}


def test_stage_seconds_sum_mapped_instances_and_tries_in_start_order():
    rows = [
        _ti("link_entities", "05:00", "06:30"),
        _ti("land_feed", "00:10", "00:40", map_index=0),
        _ti("land_feed", "00:40", "01:00", map_index=1),
        _ti("land_feed", "01:00", "02:00", map_index=2, try_number=2),
        _ti("land_feed", "01:00", "01:05", map_index=2, try_number=1, state="failed"),  # history row
        _ti("land_feed", "01:00", "02:00", map_index=2, try_number=2),  # same try seen twice
        _ti("discover_feeds", "00:00", "00:05", duration=4.5),
        {"task_id": "publish", "map_index": -1, "try_number": 0, "state": "upstream_failed",
         "start_date": None, "end_date": None, "duration": None},
    ]
    stages = bench.stage_seconds(rows)
    assert list(stages) == ["discover_feeds", "land_feed", "link_entities", "publish"]
    assert stages["discover_feeds"]["seconds"] == 4.5  # the recorded duration wins
    land = stages["land_feed"]
    assert land["seconds"] == 30 + 20 + 60 + 5
    assert land["instances"] == 3 and land["tries"] == 4
    assert land["span_seconds"] == 110
    assert land["states"] == {"success": 3, "failed": 1}
    assert stages["link_entities"]["seconds"] == 90
    assert stages["publish"] == {"seconds": 0.0, "instances": 1, "tries": 1, "span_seconds": None,
                                 "states": {"upstream_failed": 1}}


def test_task_rows_read_the_run_from_a_metadata_db(tmp_path):
    import sqlite3

    db = tmp_path / "airflow.db"
    with sqlite3.connect(db) as con:
        for table in ("task_instance", "task_instance_history"):
            con.execute(f"CREATE TABLE {table} (dag_id, run_id, task_id, map_index, try_number, state, "
                        "start_date, end_date, duration)")
        con.execute("CREATE TABLE dag_run (dag_id, run_id, state)")
        con.executemany("INSERT INTO dag_run VALUES (?, ?, ?)",
                        [("regulake_main", "r1", "success"), ("other", "x", "failed")])
        con.execute("INSERT INTO task_instance VALUES ('regulake_main', 'r1', 'publish', -1, 1, 'success', "
                    "'2024-05-01 10:00:00', '2024-05-01 10:00:09', 9.0)")
        con.execute("INSERT INTO task_instance VALUES ('regulake_main', 'r0', 'publish', -1, 1, 'success', "
                    "'2024-05-01 09:00:00', '2024-05-01 09:00:09', 9.0)")
    assert bench.dag_runs(db) == {"r1": "success"}
    assert bench.stage_seconds(bench.task_rows(db, ["r1"]))["publish"]["seconds"] == 9.0
    assert bench.task_rows(db, []) == []


def _run(wall, records, landing_records=1000, python=1 * GIB, jvm=3 * GIB, exit_code=0):
    return {"wall_seconds": wall, "records": records, "landing_records": landing_records, "exit_code": exit_code,
            "as_of": "2024-03-31", "load_start": [3.0, 2.0, 1.0], "load_end": [4.0, 3.0, 2.0],
            "peak_rss": {"python_driver": python, "jvm": jvm, "other": 0, "tree": python + jvm,
                         "max_process": max(python, jvm), "max_process_name": "java"},
            "stages": {"land_feed": {"seconds": wall / 2, "instances": 15, "tries": 15, "span_seconds": wall / 2,
                                     "states": {"success": 15}},
                       "publish": {"seconds": 1.0, "instances": 1, "tries": 1, "span_seconds": 1.0,
                                   "states": {"success": 1}}}}


def _entry(enterprises, full=400.0, incremental=90.0, nothing=30.0, floor_full=100.0, batches=3, scale=1):
    records = 800 * scale
    return bench.derive({
        "enterprises": enterprises, "batches": batches, "seed": 1, "date": "2024-05-01 10:00",
        "command": f".venv/bin/python benchmarks/pipeline.py --enterprises {enterprises} --batches {batches}",
        "machine": {"cores": 2, "memory_gib": 23.4, "platform": "Linux x86_64", "load_start": [1.0, 1.0, 1.0],
                    "load_end": [2.0, 2.0, 2.0]},
        "generate_seconds": 3.0, "generated_records": 1200 * scale,
        "batch_dates": ["20240131", "20240229", "20240331"],
        "runs": {"full": _run(full, records, records), "incremental": _run(incremental, 400 * scale, 1200 * scale),
                 "nothing_new": _run(nothing, 0, 1200 * scale)},
        "floor": {"wall_seconds": floor_full * 2, "exit_code": 0, "startup_seconds": 10.0,
                  "load_start": [1.0, 1.0, 1.0], "load_end": [1.0, 1.0, 1.0],
                  "peak_rss": {"python_driver": GIB, "jvm": 2 * GIB, "max_process": 2 * GIB,
                               "max_process_name": "java"},
                  "phases": {"full": {"batches": ["20240131", "20240229"], "seconds": floor_full,
                                      "records": records, "rows_written": records},
                             "increment": {"batches": ["20240331"], "seconds": 20.0, "records": 400 * scale,
                                           "rows_written": 400 * scale},
                             "all": {"batches": [], "seconds": floor_full * 1.4, "records": 1200 * scale,
                                     "rows_written": 1200 * scale}}},
    })


def test_derived_figures():
    entry = _entry(300)
    full, inc, nothing = (entry["runs"][k] for k in bench.RUN_KINDS)
    assert full["records_per_second"] == 2.0 and full["seconds_per_record"] == 0.5
    assert full["floor_ratio"] == 4.0 and inc["floor_ratio"] == 4.5 and nothing["floor_ratio"] is None
    assert nothing["records_per_second"] is None and nothing["seconds_per_record"] == 30 / 1200
    assert entry["floor"]["phases"]["full"]["seconds_per_record"] == 100 / 800


def _verdicts(checks):
    return {c["name"]: c["ok"] for c in checks}


def test_targets_on_one_size():
    entry = _entry(300)
    verdicts = _verdicts(bench.check_targets(entry, [entry]))
    assert verdicts == {
        "every run succeeded": True,
        "full ≤ 4× floor": True,  # 400 s = 4.0 × 100 s
        "incremental ≤ 25% of full": True,  # 90 / 400
        "nothing-new ≤ 60 s": True,
        "no process above 16 GiB RSS": True,
        "full: seconds per record flat within ±25% across sizes": None,
        "incremental: seconds per record flat within ±25% across sizes": None,
    }
    slow = _entry(300, full=401.0, incremental=101.0, nothing=61.0)
    slow["runs"]["incremental"]["exit_code"] = 1
    slow["runs"]["full"]["peak_rss"]["max_process"] = 17 * GIB
    lines = bench.target_lines(bench.check_targets(slow, [slow]))
    assert [line.split()[0] for line in lines] == ["FAIL"] * 5 + ["SKIP"] * 2
    assert lines[0] == "FAIL every run succeeded: failed: incremental (exit 1)"
    assert "401.0 s vs floor 100.0 s = 4.0×" in lines[1]
    assert "17.00 GiB" in lines[4]


def test_flatness_compares_the_smallest_and_largest_size_of_the_same_batch_count():
    small = _entry(100_000)
    flat = _entry(400_000, full=400.0 * 4 * 1.2, incremental=90.0 * 4 * 1.3, scale=4)  # +20 %, +30 %
    other_batches = _entry(200_000, full=99_999.0, batches=4)
    entries = bench.merge_entry(bench.merge_entry([small], other_batches), flat)
    verdicts = _verdicts(bench.check_targets(flat, entries))
    assert verdicts["full: seconds per record flat within ±25% across sizes"] is True
    assert verdicts["incremental: seconds per record flat within ±25% across sizes"] is False


def test_merge_replaces_the_same_size():
    first, again, other = _entry(300), _entry(300, full=500.0), _entry(600)
    entries = bench.merge_entry(bench.merge_entry([first, other], again), _entry(300, batches=4))
    assert [(e["enterprises"], e["batches"]) for e in entries] == [(300, 3), (600, 3), (300, 4)]
    assert entries[0]["runs"]["full"]["wall_seconds"] == 500.0


def test_markdown_from_fixed_numbers():
    a, b = _entry(100_000), _entry(200_000, full=900.0, scale=2)
    for e in (a, b):
        e["targets"] = bench.check_targets(e, [a, b])
    text = bench.render_markdown([b, a])
    assert text.index("## 100,000 enterprises × 3 batches") < text.index("## 200,000 enterprises × 3 batches")
    assert "| full (batches 1..K-1) | 2024-03-31 | 800 | 400.0 | 2 | 500,000 | 4.00 | 1.00 / 3.00 | 0 | 3.0 → 4.0 |" \
        in text
    assert "| nothing new (rerun) | 2024-03-31 | 0 | 30.0 | – | 25,000 ¹ | – |" in text
    assert "| floor: copy batches 1..K-1 | | 800 | 100.0 | 8 | 125,000 | 1.00 |" in text
    assert "| land_feed | 200.0 (×15) | 45.0 (×15) | 15.0 (×15) |" in text
    assert "| **sum of tasks** | 201.0 | 46.0 | 16.0 |" in text
    assert "* PASS full ≤ 4× floor: 400.0 s vs floor 100.0 s = 4.0×" in text
    assert "`.venv/bin/python benchmarks/pipeline.py --enterprises 100000 --batches 3`" in text
    assert "2 cores, 23.4 GiB memory" in text
    assert "![seconds per record against enterprises](pipeline.svg)" in text
    assert "| 3 | 200,000 | 562,500 | 112,500 | 12,500 | 62,500 |" in text


def test_svg_from_fixed_numbers(tmp_path):
    entries = [_entry(100_000), _entry(200_000, full=900.0, scale=2), _entry(50_000, batches=4)]
    series = bench.curve_series(entries, 3)
    assert series["full (batches 1..K-1)"] == [(100_000, 500_000.0), (200_000, 562_500.0)]
    assert series["floor (raw copy, batches 1..K-1)"] == [(100_000, 125_000.0), (200_000, 62_500.0)]
    svg = bench.render_svg(series)
    root = ET.fromstring(svg)  # well-formed
    ns = "{http://www.w3.org/2000/svg}"
    assert len(root.findall(f"{ns}polyline")) == 4
    assert len(root.findall(f"{ns}circle")) == 8
    assert "floor (raw copy, batches 1..K-1)" in svg and "enterprises" in svg
    one = ET.fromstring(bench.render_svg(bench.curve_series(entries, 4)))  # one size: points, no lines
    assert not one.findall(f"{ns}polyline") and len(one.findall(f"{ns}circle")) == 4
    ET.fromstring(bench.render_svg({}))
    path = tmp_path / "curve.svg"
    bench.write_svg(series, path)
    ET.fromstring(path.read_text(encoding="utf-8"))


def test_ticks_are_round():
    assert bench._ticks(430_000) == [0, 100_000, 200_000, 300_000, 400_000]
    assert bench._ticks(0) == [0.0]
