"""land_feed end to end on tiny landings: bronze, quarantine, delivery_log, reruns, order, crashes."""

from __future__ import annotations

import shutil
from datetime import datetime

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from jobs.landing import audit, bronze
from jobs.landing import job as landing_job
from regulake import lake as lake_io
from regulake.feeds import load_feed
from tests.stages import context, without_spark

from .helpers import PENALTY_HEADER, penalty_csv, penalty_row, write_delivery

FEED = "samr_penalty"


def _table(spark, settings, layer, table):
    return spark.read.format("delta").load(settings.table_path(layer, table))


def _version(spark, settings, layer, table) -> int:
    from delta.tables import DeltaTable

    return DeltaTable.forPath(spark, settings.table_path(layer, table)).history(1).first()["version"]


def _statuses(spark, settings) -> dict[str, list[str]]:
    rows = _table(spark, settings, "audit", "delivery_log").where(F.col("feed_id") == FEED).collect()
    found: dict[str, list[str]] = {}
    for row in rows:
        found.setdefault(row.batch_date, []).append(row.status)
    return {k: sorted(v) for k, v in found.items()}


def test_bronze_frame_layout(spark):
    schema = load_feed("tax_credit")
    staged = spark.createDataFrame(
        [("91410103MA3FNJJ63H", "甲", "2021", "A", None, "2022/04/03", {"备注": "x"}, "tax_credit", "20240131",
          "part-0001.csv", 7, "h", "d")],
        bronze._staged_spark_schema(schema),
    )
    at = datetime(2024, 2, 1, 8, 0, 0)
    expected = spark.createDataFrame(
        [("91410103MA3FNJJ63H", "甲", "2021", "A", None, "2022/04/03", {"备注": "x"}, "tax_credit", "20240131",
          "part-0001.csv", 7, at, "h", "d")],
        bronze.bronze_spark_schema(schema),
    )
    actual = bronze.bronze_frame(staged, schema, F.lit(at))
    assertDataFrameEqual(actual, expected)
    assert actual.columns[:6] == schema.column_names  # named by the schema's `name`, in order
    assert actual.columns[6:] == ["_extra", *bronze.LINEAGE_COLUMNS]


def test_delivery_lifecycle_and_reruns_change_nothing(spark, lake, make_delivery, tmp_path, monkeypatch):
    good = penalty_csv(penalty_row(1), penalty_row(2) + ",too,many", penalty_row(3))
    make_delivery(FEED, "20240301", {"part-0001.csv": good}, rows={"part-0001.csv": 3})
    bad = make_delivery(FEED, "20240302", {"part-0001.csv": penalty_csv(penalty_row(4))})
    (bad / "part-0001.csv").write_bytes(penalty_csv(penalty_row(5)))  # checksum no longer matches
    make_delivery(FEED, "20240303", {"part-0001.csv": penalty_csv(penalty_row(6))}, manifest=False)
    root = str(make_delivery.root)

    first = landing_job.run(context(spark, lake, "run-1", landing=root, feed_id=FEED))
    assert [(d["batch_date"], d["status"]) for d in first["deliveries"]] == [
        ("20240301", "loaded"), ("20240302", "rejected"), ("20240303", "incomplete")]
    assert (first["rows_landed"], first["rows_quarantined"]) == (2, 1)
    assert first["deliveries"][1]["reason"].startswith("sha256_mismatch: part-0001.csv")
    assert _table(spark, lake, "bronze", FEED).count() == 2
    quarantine = _table(spark, lake, "audit", "quarantine").collect()
    assert [(q.batch_date, q.record_no, q.reason_code, q.stage) for q in quarantine] == [
        ("20240301", 2, "parse_error", "landing")]
    assert quarantine[0].raw_record == penalty_row(2) + ",too,many"

    # The manifest arrives; the rejected delivery is re-sent, fixed, in a later batch;
    # a copy of the loaded delivery arrives in another landing root.
    make_delivery(FEED, "20240303", {"part-0001.csv": penalty_csv(penalty_row(6))})
    header = ",".join(reversed(PENALTY_HEADER.upper().split(","))) + ", Remark "
    row = ",".join(reversed(penalty_row(4).split(","))) + ",复核"
    make_delivery(FEED, "20240304", {"part-0001.csv": penalty_csv(row, header=header)})
    resend_root = tmp_path / "landing_resend"
    shutil.copytree(make_delivery.root / FEED / "20240301", resend_root / FEED / "20240301")

    second = landing_job.run(context(spark, lake, "run-2", landing=root, feed_id=FEED))
    assert [(d["batch_date"], d["status"]) for d in second["deliveries"]] == [
        ("20240303", "loaded"), ("20240304", "loaded")]
    assert second["unchanged"] == 2  # 20240301 loaded and 20240302 rejected before: not logged again
    assert second["deliveries"][1]["reason"] == "extra_columns: Remark"
    resent_fix = _table(spark, lake, "bronze", FEED).where(F.col("_batch_date") == "20240304").first()
    assert (resent_fix.decision_no, resent_fix.severity, resent_fix._extra) == (
        "郑市监罚〔2024〕4号", "1", {"Remark": "复核"})
    resent = landing_job.run(context(spark, lake, "run-3", landing=str(resend_root), feed_id=FEED))
    assert [(d["batch_date"], d["status"]) for d in resent["deliveries"]] == [("20240301", "duplicate")]
    assert resent["deliveries"][0]["reason"].startswith("already_loaded:")
    assert _statuses(spark, lake) == {
        "20240301": ["duplicate", "loaded"], "20240302": ["rejected"],
        "20240303": ["incomplete", "loaded"], "20240304": ["loaded"]}
    assert _table(spark, lake, "bronze", FEED).count() == 4
    log = _table(spark, lake, "audit", "delivery_log").where(F.col("batch_date") == "20240301").collect()
    loaded = next(r for r in log if r.status == "loaded")
    assert (loaded.manifest_rows, loaded.mode, loaded.rows_landed, loaded.rows_quarantined, loaded.run_id) == (
        3, "incremental", 2, 1, "run-1")
    assert next(r for r in log if r.status == "duplicate").location == str(resend_root / FEED / "20240301")

    versions = {t: _version(spark, lake, *t) for t in
                [("bronze", FEED), ("audit", "quarantine"), ("audit", "delivery_log")]}
    for run, landing in [("run-4", root), ("run-5", str(resend_root))]:
        again = landing_job.run(without_spark(lake, run, monkeypatch, landing=landing, feed_id=FEED))
        assert again["deliveries"] == [] and again["rows_landed"] == 0
    assert {t: _version(spark, lake, *t) for t in versions} == versions  # not a single commit


def _three_batches(root):
    rows = {
        "20240301": [penalty_row(1), penalty_row(2), penalty_row(3) + ",x"],
        "20240302": [penalty_row(2, severity="2"), penalty_row(4, legal_basis='"第一条\n第二条"')],
        "20240303": [penalty_row(2, severity="3"), penalty_row(5)],
    }
    for batch, lines in rows.items():
        data = penalty_csv(*lines)
        write_delivery(root, FEED, batch, {"part-0001.csv": data}, rows={"part-0001.csv": len(lines)})
    return sorted(rows)


def test_reverse_order_gives_the_same_bronze(spark, lake_settings, tmp_path):
    forward_lake = lake_settings.with_overrides(**{"lake.root": str(tmp_path / "lake_forward")})
    reverse_lake = lake_settings.with_overrides(**{"lake.root": str(tmp_path / "lake_reverse")})
    source = tmp_path / "all"
    batches = _three_batches(source)
    landing_job.run(context(spark, forward_lake, "forward", landing=str(source), feed_id=FEED))

    arriving = tmp_path / "arriving"
    for batch in reversed(batches):  # newest first, one run each
        shutil.copytree(source / FEED / batch, arriving / FEED / batch)
        landing_job.run(context(spark, reverse_lake, f"reverse-{batch}", landing=str(arriving), feed_id=FEED))

    for layer, table, drop in [("bronze", FEED, "_ingested_at"), ("audit", "quarantine", "quarantined_at")]:
        forward = _table(spark, forward_lake, layer, table).drop(drop)
        reverse = _table(spark, reverse_lake, layer, table).drop(drop)
        assert forward.count() == {"bronze": 6, "audit": 1}[layer]
        assertDataFrameEqual(reverse, forward)


def test_a_killed_run_neither_duplicates_nor_loses(spark, lake, tmp_path, monkeypatch):
    root = tmp_path / "landing"
    _three_batches(root)

    def killed(*args, **kwargs):
        raise RuntimeError("task killed")

    # 1. Killed before the bronze commit: nothing is visible, staging is gone.
    monkeypatch.setattr(bronze, "write_bronze", killed)
    with pytest.raises(RuntimeError):
        landing_job.run(context(spark, lake, "killed-1", landing=str(root), feed_id=FEED))
    monkeypatch.undo()
    assert not lake_io.exists(spark, lake, "bronze", FEED)
    assert not list((tmp_path / "lake" / ".staging" / "landing" / FEED).iterdir())

    # 2. Killed after the bronze commit, before quarantine and log.
    monkeypatch.setattr(audit, "write_quarantine", killed)
    with pytest.raises(RuntimeError):
        landing_job.run(context(spark, lake, "killed-2", landing=str(root), feed_id=FEED))
    monkeypatch.undo()
    assert _table(spark, lake, "bronze", FEED).count() == 6
    bronze_version = _version(spark, lake, "bronze", FEED)

    # 3. The rerun logs the deliveries and writes their quarantine, without appending them again.
    rerun = landing_job.run(context(spark, lake, "rerun", landing=str(root), feed_id=FEED))
    assert [d["status"] for d in rerun["deliveries"]] == ["loaded"] * 3
    assert all(d["recovered"] for d in rerun["deliveries"])
    # Logged as an uninterrupted run logs them: the recovery is the task log's to say.
    assert [d["reason"] for d in rerun["deliveries"]] == [None] * 3
    assert _version(spark, lake, "bronze", FEED) == bronze_version
    assert _table(spark, lake, "bronze", FEED).count() == 6
    assert _table(spark, lake, "audit", "quarantine").count() == 1
