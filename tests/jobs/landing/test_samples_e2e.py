"""Landing the shared sample deliveries (all 15 feeds, 3 batches) end to end."""

from __future__ import annotations

import json

import pytest
from pyspark.sql import functions as F

from jobs.landing import job as landing_job
from jobs.landing.job import discover
from regulake.feeds import feed_ids
from tests.stages import context

# The planted delivery-level defects of the samples (found by inspecting them; README lists the kinds).
EXPECTED_NOT_LOADED = {
    ("court_dishonest", "20240229"): ("rejected", "row_count_mismatch: part-0001.csv: manifest 3 rows, file holds 2"),
    ("env_penalty", "20240229"): ("rejected", "sha256_mismatch: part-0001.jsonl: manifest 6e2d82d4"),
    ("samr_abnormal_list", "20240229"): ("rejected", "missing_required_column: part-0001.csv: listed_date"),
    ("sentiment", "20240229"): ("incomplete", "missing_manifest: no manifest.json yet"),
}


@pytest.fixture(scope="module")
def landed(spark, lake_settings, samples_landing, tmp_path_factory):
    settings = lake_settings.with_overrides(**{"lake.root": str(tmp_path_factory.mktemp("samples_lake"))})
    results = {feed: landing_job.run(context(spark, settings, "samples-1", landing=str(samples_landing), feed_id=feed))
               for feed in discover(str(samples_landing))}
    return settings, results


def _table(spark, settings, layer, table):
    return spark.read.format("delta").load(settings.table_path(layer, table))


@pytest.mark.slow
def test_every_delivery_gets_its_expected_status(spark, landed, samples_landing):
    settings, results = landed
    assert sorted(results) == feed_ids()
    statuses = {(feed, d["batch_date"]): (d["status"], d["reason"])
                for feed, result in results.items() for d in result["deliveries"]}
    folders = {(p.parent.name, p.name) for p in samples_landing.glob("*/*") if p.is_dir()}
    assert set(statuses) == folders  # every folder judged and logged exactly once
    for key, (status, reason) in statuses.items():
        if key in EXPECTED_NOT_LOADED:
            expected_status, expected_reason = EXPECTED_NOT_LOADED[key]
            assert status == expected_status and reason.startswith(expected_reason), key
        else:
            assert status == "loaded", (key, reason)
    assert statuses[("samr_penalty", "20240229")][1] == "extra_columns: remark"


@pytest.mark.slow
def test_bronze_plus_quarantine_equals_manifest_rows(spark, landed, samples_landing):
    settings, results = landed
    log = _table(spark, settings, "audit", "delivery_log")
    quarantine = _table(spark, settings, "audit", "quarantine")
    assert {r.reason_code for r in quarantine.select("reason_code").distinct().collect()} == {
        "parse_error", "encoding_error"}
    quarantined = {(r.delivery_id): r["count"] for r in quarantine.groupBy("delivery_id").count().collect()}
    checked = 0
    for feed in feed_ids():
        landed_rows = {r._delivery_id: r["count"]
                       for r in _table(spark, settings, "bronze", feed).groupBy("_delivery_id").count().collect()}
        for entry in log.where((F.col("feed_id") == feed) & (F.col("status") == "loaded")).collect():
            manifest = json.loads((samples_landing / feed / entry.batch_date / "manifest.json").read_text())
            rows = sum(f["rows"] for f in manifest["files"])
            assert entry.manifest_rows == rows
            in_bronze, in_quarantine = landed_rows.get(entry.delivery_id, 0), quarantined.get(entry.delivery_id, 0)
            assert in_bronze + in_quarantine == rows, (feed, entry.batch_date)
            assert (entry.rows_landed, entry.rows_quarantined) == (in_bronze, in_quarantine)
            checked += 1
    assert checked == 41


@pytest.mark.slow
def test_record_numbers_match_the_manifest_counting(spark, landed):
    settings, _ = landed
    tax = (_table(spark, settings, "audit", "quarantine")
           .where((F.col("feed_id") == "tax_credit") & (F.col("batch_date") == "20240131")).collect())
    # GB18030 records with undecodable bytes, and records with a wrong number of fields.
    assert sorted((q.record_no, q.reason_code) for q in tax) == sorted(
        [(n, "encoding_error") for n in (134, 840, 854, 1160, 1277, 1551, 1574, 2031, 2392)]
        + [(n, "parse_error") for n in (784, 966, 1697, 2032)])
    enterprise = _table(spark, settings, "bronze", "samr_enterprise")
    assert enterprise.where(F.col("business_scope").contains("\n")).count() > 0  # quoted line breaks
    last = (_table(spark, settings, "audit", "quarantine")
            .where((F.col("feed_id") == "samr_enterprise") & (F.col("batch_date") == "20240131")
                   & (F.col("record_no") == 2007)).first())
    assert last.reason_code == "parse_error" and last.reason_detail.startswith("broken quoting")
    personnel = _table(spark, settings, "bronze", "personnel").where(F.col("_batch_date") == "20240131")
    assert personnel.count() == 405 and personnel.where(F.col("执法证号").isNull()).count() == 0
    court = _table(spark, settings, "bronze", "court_dishonest").first()
    assert court.record_id.startswith("SX")  # the BOM is not part of the first header name


@pytest.mark.slow
def test_rerun_over_the_samples_changes_nothing(spark, landed, samples_landing):
    from delta.tables import DeltaTable

    settings, _ = landed
    tables = [("bronze", f) for f in feed_ids()] + [("audit", "quarantine"), ("audit", "delivery_log")]
    versions = {t: DeltaTable.forPath(spark, settings.table_path(*t)).history(1).first()["version"]
                for t in tables}
    for feed in discover(str(samples_landing)):
        again = landing_job.run(context(spark, settings, "samples-2", landing=str(samples_landing), feed_id=feed))
        assert again["deliveries"] == [] and again["unchanged"] == 3
    assert {t: DeltaTable.forPath(spark, settings.table_path(*t)).history(1).first()["version"]
            for t in tables} == versions
