"""jobs.maintenance on a tiny lake: compaction keeps rows, retention keeps time travel, VACUUM,
statistics, nothing changes on a rerun, conflicts are retried then skipped."""

from __future__ import annotations

import os
import time
from datetime import date

import pytest

from jobs.maintenance import job
from regulake.config import ConfigError, load_settings
from regulake.stage import StageContext

EVENTS, SCORES = ("silver", "events"), ("gold", "scores")
DAY = 24 * 3600


# --- Pure parts ------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "hours"), [
    ("interval 30 days", 720), ("interval 720 hours", 720), ("1 week", 168), ("INTERVAL 1 day 12 hours", 36),
    ("interval 90 minutes", 1.5), ("forever", None), ("interval 3 fortnights", None), (None, None),
])
def test_interval_hours(text, hours):
    assert job.interval_hours(text) == hours


def test_retention_is_set_to_the_window_and_never_lowered():
    cfg = load_settings().config.maintenance
    window = f"interval {cfg.vacuum_retain_hours} hours"
    # A fresh table: Delta's defaults (7 days of files) are raised to the audit window.
    fresh = job.planned_properties({}, cfg)
    assert fresh[job.FILE_RETENTION] == window and fresh[job.LOG_RETENTION].startswith("interval ")
    assert cfg.table_properties.items() <= fresh.items()
    assert job.vacuum_retain_hours({}, cfg) == cfg.vacuum_retain_hours
    # Already the same span, spelt otherwise: nothing to commit.
    same = {job.FILE_RETENTION: "interval 30 days", job.LOG_RETENTION: "interval 30 days", **cfg.table_properties}
    assert job.planned_properties(same, cfg) == {}
    # A longer retention someone set on purpose is kept, and the log follows it.
    longer = {job.FILE_RETENTION: "interval 90 days", job.LOG_RETENTION: "interval 30 days", **cfg.table_properties}
    assert job.planned_properties(longer, cfg) == {job.LOG_RETENTION: "interval 2160 hours"}
    assert job.vacuum_retain_hours(longer, cfg) == 2160
    # Unreadable: left alone, and no VACUUM on a guess.
    assert job.vacuum_retain_hours({job.FILE_RETENTION: "forever"}, cfg) is None
    # VACUUM goes by the table's own property: only once it holds the window.
    assert not job.retention_in_place({}, cfg)
    assert not job.retention_in_place({job.FILE_RETENTION: "interval 7 days"}, cfg)
    assert job.retention_in_place(same, cfg) and job.retention_in_place(longer, cfg)


@pytest.mark.parametrize("bad", [
    {"maintenance.vacuum_retain_hours": 24},
    {"maintenance.log_retention_hours": 200},
    {"maintenance.table_properties": {"compression": "zstd"}},
    {"maintenance.table_properties": {"delta.deletedFileRetentionDuration": "interval 1 hours"}},
])
def test_retention_below_the_floor_is_a_config_error(bad):
    with pytest.raises(ConfigError):
        load_settings().with_overrides(**bad)


def test_conflicts_are_retried_then_skipped_other_errors_raised():
    from delta.exceptions.base import ConcurrentAppendException

    calls, waits = [], []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise ConcurrentAppendException(message="[DELTA_CONCURRENT_APPEND] files were added")
        return "done"

    assert job.retry_conflicts(flaky, "t optimize", retries=3, backoff_seconds=2, sleep=waits.append) == "done"
    assert len(calls) == 3 and waits == [2, 4]

    def always():
        raise RuntimeError("[DELTA_CONCURRENT_DELETE_READ] a file was removed")  # as py4j may surface it

    with pytest.raises(job.ConflictSkipped):
        job.retry_conflicts(always, "t optimize", retries=1, backoff_seconds=0, sleep=waits.append)

    def broken():
        raise ValueError("not a conflict")

    with pytest.raises(ValueError):
        job.retry_conflicts(broken, "t optimize", retries=3, backoff_seconds=0, sleep=waits.append)


# --- On a tiny lake --------------------------------------------------------------------------


def _rows(spark, settings, table, version=None):
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return sorted(tuple(r) for r in reader.load(settings.table_path(*table)).collect())


def _versions(spark, settings):
    from regulake.stage_state import delta_version

    return {t: delta_version(spark, settings.table_path(*t)) for t in (EVENTS, SCORES)}


def _num_files(spark, settings, table):
    return spark.sql(f"DESCRIBE DETAIL delta.`{settings.table_path(*table)}`").first()["numFiles"]


@pytest.fixture(scope="module")
def lake(lean_spark, lake_settings, tmp_path_factory):
    """silver.events: 4 small appends; gold.scores: 2 appends, Z-ordered by id; and two stray files
    in silver.events that no version references, one 40 days old and one 10 days old."""
    spark = lean_spark
    settings = lake_settings.with_overrides(**{
        "lake.root": str(tmp_path_factory.mktemp("maintenance") / "lake"),
        "maintenance.zorder": {"gold.scores": ["id"]},
        "maintenance.conflict_backoff_seconds": 0,
    })
    for batch in range(4):
        (spark.range(batch * 10, batch * 10 + 10).selectExpr("id", "cast(id * 2 AS string) AS value")
         .coalesce(1).write.format("delta").mode("append").save(settings.table_path(*EVENTS)))
    for batch in range(2):
        (spark.range(batch * 5, batch * 5 + 5).selectExpr("id", "id * 0.5 AS score")
         .coalesce(1).write.format("delta").mode("append").save(settings.table_path(*SCORES)))
    strays = {}
    for name, age_days in (("old", 40), ("recent", 10)):
        path = f"{settings.table_path(*EVENTS)}/part-00000-stray-{name}.snappy.parquet"
        with open(path, "wb") as handle:
            handle.write(b"left behind by a write that never committed")
        stamp = time.time() - age_days * DAY
        os.utime(path, (stamp, stamp))
        strays[name] = path
    return spark, settings, strays


@pytest.fixture(scope="module")
def runs(lake):
    """A dry run, a real run and a second real run, with the lake's state after each."""
    spark, settings, strays = lake
    ctx = StageContext(settings=settings, run_id="maintenance-test", as_of=date(2024, 3, 31), session=spark)
    state = {"rows": {t: _rows(spark, settings, t) for t in (EVENTS, SCORES)},
             "files": _num_files(spark, settings, EVENTS), "versions": _versions(spark, settings)}
    dry = job.run(ctx, dry_run=True)
    state["versions_after_dry"] = _versions(spark, settings)
    state["stray_kept_by_dry_run"] = os.path.exists(strays["old"])
    first = job.run(ctx)
    state["versions_after_first"] = _versions(spark, settings)
    second = job.run(ctx)
    state["versions_after_second"] = _versions(spark, settings)
    return {"ctx": ctx, "dry": dry, "first": first, "second": second, **state}


def test_dry_run_lists_what_vacuum_would_delete_and_changes_nothing(lake, runs):
    events = runs["dry"]["tables"]["silver.events"]
    assert runs["versions_after_dry"] == runs["versions"]
    assert events["vacuum"]["retain_hours"] == 720
    # Only the untracked file older than the window; the 10-day-old one is inside it.
    assert [os.path.basename(p) for p in events["vacuum"]["would_delete"]] == ["part-00000-stray-old.snappy.parquet"]
    assert runs["stray_kept_by_dry_run"]
    assert events["properties"][job.FILE_RETENTION] == "interval 720 hours"
    assert set(runs["dry"]["tables"]) == {"silver.events", "gold.scores"}


def test_optimize_compacts_and_keeps_every_row(lake, runs):
    spark, settings, _ = lake
    events = runs["first"]["tables"]["silver.events"]
    assert runs["files"] == 4 and events["files_before"] == 4
    assert events["optimize"]["files_removed"] == 4 and events["files_after"] == 1
    assert _num_files(spark, settings, EVENTS) == 1
    for table in (EVENTS, SCORES):
        assert _rows(spark, settings, table) == runs["rows"][table]
    scores = runs["first"]["tables"]["gold.scores"]
    assert scores["optimize"]["zorder_by"] == ["id"] and scores["files_after"] == 1


def test_retention_properties_and_optimize_write_are_set(lake, runs):
    spark, settings, _ = lake
    properties = spark.sql(f"DESCRIBE DETAIL delta.`{settings.table_path(*EVENTS)}`").first()["properties"]
    assert properties[job.FILE_RETENTION] == "interval 720 hours"
    assert properties[job.LOG_RETENTION] == "interval 720 hours"
    assert properties["delta.autoOptimize.optimizeWrite"] == "true"


def test_time_travel_to_the_first_version_still_works(lake, runs):
    """OPTIMIZE removed the first versions' files; VACUUM kept them (removed minutes ago, not 30 days)."""
    spark, settings, strays = lake
    assert _rows(spark, settings, EVENTS, version=0) == [(i, str(i * 2)) for i in range(10)]
    assert _rows(spark, settings, SCORES, version=0) == runs["rows"][SCORES][:5]
    events = runs["first"]["tables"]["silver.events"]
    assert events["vacuum"] == {"retain_hours": 720, "files": 1}
    assert not os.path.exists(strays["old"]) and os.path.exists(strays["recent"])


def test_missing_file_statistics_are_recomputed(lake, runs):
    """The lean test session writes without Delta statistics; the job fills them in."""
    spark, settings, _ = lake
    assert runs["first"]["tables"]["silver.events"]["stats"] == {"files_without_stats": 1, "recomputed": True}
    assert job.files_without_stats(spark, settings.table_path(*EVENTS)) == 0


def test_a_second_run_commits_nothing(lake, runs):
    spark, settings, _ = lake
    assert runs["versions_after_first"] != runs["versions"]
    assert runs["versions_after_second"] == runs["versions_after_first"]
    second = runs["second"]["tables"]
    assert second["silver.events"]["optimize"]["files_removed"] == 0
    assert second["gold.scores"]["optimize"]["up_to_date"] is True
    assert all(t["properties"] == {} and t["stats"]["recomputed"] is False for t in second.values())
    for table in (EVENTS, SCORES):
        assert _rows(spark, settings, table) == runs["rows"][table]


def test_a_conflict_skips_the_step_and_another_error_fails_only_its_table(lake, runs, monkeypatch):
    """silver.events keeps conflicting: its OPTIMIZE is skipped with a warning, the run goes on;
    gold.scores fails otherwise: reported at the end, after the other table was maintained."""
    from delta.exceptions.base import ConcurrentAppendException

    spark, settings, _ = lake
    attempts = []

    def optimize(spark_, ref, zorder):
        attempts.append(ref)
        if "/silver/" in ref:
            raise ConcurrentAppendException(message="[DELTA_CONCURRENT_APPEND] files were added")
        raise OSError("disk on fire")

    monkeypatch.setattr(job, "_optimize", optimize)
    ctx = StageContext(settings=settings.with_overrides(**{"maintenance.zorder": {"gold.scores": []}}), run_id="conflict",
                       as_of=date(2024, 3, 31), session=spark)
    with pytest.raises(job.MaintenanceFailed) as failed:
        job.run(ctx)
    summary = failed.value.summary
    assert summary["skipped"] == ["silver.events: optimize"] and summary["failed"] == ["gold.scores"]
    assert summary["tables"]["silver.events"]["status"] == "skipped steps"
    assert "vacuum" in summary["tables"]["silver.events"]  # the steps after it still ran
    assert sum("/silver/" in ref for ref in attempts) == 1 + settings.config.maintenance.conflict_retries
    assert _versions(spark, settings) == runs["versions_after_second"]


def test_refuses_to_run_with_the_retention_check_disabled(lake):
    spark, settings, _ = lake
    ctx = StageContext(settings=settings, run_id="unsafe", as_of=date(2024, 3, 31), session=spark)
    spark.conf.set(job.RETENTION_CHECK, "false")
    try:
        with pytest.raises(RuntimeError, match="refusing"):
            job.run(ctx, layers=["silver"])
    finally:
        spark.conf.unset(job.RETENTION_CHECK)
