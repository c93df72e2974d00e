"""`public` reads gold at the versions the last publish recorded (regulake.catalog)."""

from __future__ import annotations

import json

import pytest

from regulake.catalog import PUBLISHED, pin_to_published, publish_gold, published_versions
from regulake.config import load_settings


@pytest.mark.parametrize(("select_sql", "pinned"), [
    ("SELECT * FROM gold.dim_enterprise", "SELECT * FROM gold.`dim_enterprise` VERSION AS OF 3"),
    ("SELECT e.x FROM `gold`.`dim_enterprise` AS e JOIN gold.fct_penalty p ON p.id = e.id",
     "SELECT e.x FROM gold.`dim_enterprise` VERSION AS OF 3 AS e JOIN gold.`fct_penalty` VERSION AS OF 0 p "
     "ON p.id = e.id"),
    # A column path that happens to contain "gold." is not a table.
    ("SELECT t.gold.dim_enterprise FROM gold.fct_penalty t", "SELECT t.gold.dim_enterprise FROM "
                                                            "gold.`fct_penalty` VERSION AS OF 0 t"),
    ("SELECT 1 AS one", "SELECT 1 AS one"),
])
def test_every_gold_table_a_view_reads_is_pinned(select_sql, pinned):
    assert pin_to_published(select_sql, {"dim_enterprise": 3, "fct_penalty": 0}) == pinned


def test_a_view_over_an_unpublished_gold_table_is_left_out():
    assert pin_to_published("SELECT * FROM gold.dim_enterprise JOIN gold.new_mart USING (id)",
                            {"dim_enterprise": 3}) is None
    assert pin_to_published("SELECT * FROM gold.dim_enterprise", {}) is None


def test_publish_records_every_gold_version_and_a_rerun_changes_nothing(tmp_path):
    settings = load_settings(lake_root=str(tmp_path))
    for table, commits in (("dim_enterprise", 3), ("fct_penalty", 1)):
        log = tmp_path / "gold" / table / "_delta_log"
        log.mkdir(parents=True)
        for version in range(commits):
            (log / f"{version:020d}.json").write_text("{}")
    (tmp_path / "silver" / "x" / "_delta_log").mkdir(parents=True)
    assert published_versions(str(tmp_path)) == {}
    assert publish_gold(settings, "run-1") == {"dim_enterprise": 2, "fct_penalty": 0}
    manifest = tmp_path / PUBLISHED
    assert json.loads(manifest.read_text())["run_id"] == "run-1"
    publish_gold(settings, "run-2")
    assert json.loads(manifest.read_text())["run_id"] == "run-1", "nothing changed: nothing switched"
    (tmp_path / "gold" / "fct_penalty" / "_delta_log" / f"{1:020d}.json").write_text("{}")
    assert publish_gold(settings, "run-3")["fct_penalty"] == 1
    assert published_versions(str(tmp_path)) == {"dim_enterprise": 2, "fct_penalty": 1}
    assert [p.name for p in manifest.parent.iterdir() if "partial" in p.name] == []


def test_a_first_write_killed_before_its_commit_is_no_table_and_is_removed_for_the_next(tmp_path):
    from regulake.catalog import discover_tables, remove_uncommitted_tables

    committed = tmp_path / "gold" / "dim_enterprise" / "_delta_log"
    committed.mkdir(parents=True)
    (committed / f"{0:020d}.json").write_text("{}")
    killed = tmp_path / "gold" / "dim_person"
    (killed / "_delta_log" / "_staged_commits").mkdir(parents=True)
    (killed / "part-00000.parquet").write_bytes(b"PAR1")
    assert discover_tables(str(tmp_path))["gold"] == ["dim_enterprise"]
    assert remove_uncommitted_tables(str(tmp_path), "gold") == ["dim_person"]
    assert not killed.exists() and committed.is_dir()


def test_a_killed_writers_temporary_commit_file_is_removed_once_it_is_old(tmp_path):
    import os
    import time

    from regulake.catalog import remove_orphaned_commit_files

    log_dir = tmp_path / "gold" / "fct_x" / "_delta_log"
    log_dir.mkdir(parents=True)
    (log_dir / "00000000000000000000.json").write_text('{"commitInfo":{}}\n')
    orphan, orphan_crc = log_dir / ".00000000000000000001.json.0f7a.tmp", log_dir / "..00000000000000000001.json.0f7a.tmp.crc"
    fresh = log_dir / ".00000000000000000001.json.9b2c.tmp"  # a live writer's, about to be renamed
    for path in (orphan, orphan_crc, fresh):
        path.write_text("{}")
    an_hour_ago = time.time() - 3600
    for path in (orphan, orphan_crc):
        os.utime(path, (an_hour_ago, an_hour_ago))

    removed = remove_orphaned_commit_files(str(tmp_path))
    assert sorted(removed) == sorted(str(p) for p in (orphan, orphan_crc))
    assert sorted(p.name for p in log_dir.iterdir()) == [fresh.name, "00000000000000000000.json"]
