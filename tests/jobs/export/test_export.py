"""Outbound deliveries (jobs/export): the contract, the increments, nothing sent twice after a crash."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest
from pyspark.sql import Row
from pyspark.testing import assertDataFrameEqual

from jobs.export import job
from jobs.export.job import EXPORT_SCHEMAS, net_changes
from regulake.feeds import load_all_feeds
from synth.conformance import check_landing


def test_net_changes_sends_what_changed_per_key_once(spark):
    changes = spark.createDataFrame([
        # a rebuild deletes and re-inserts k1 unchanged: no change
        ("k1", "A", "delete", 3), ("k1", "A", "insert", 3),
        # k2 updated twice: one upsert with its last value
        ("k2", "A", "update_preimage", 3), ("k2", "B", "update_postimage", 3),
        ("k2", "B", "update_preimage", 4), ("k2", "C", "update_postimage", 4),
        # k3 new; k4 removed; k5 inserted and removed within the range: nothing
        ("k3", "D", "insert", 4), ("k4", "B", "delete", 4), ("k5", "A", "insert", 3), ("k5", "A", "delete", 4),
    ], "entity_id string, risk_class string, _change_type string, _commit_version long")
    assertDataFrameEqual(net_changes(changes, ["entity_id"], ["entity_id", "risk_class"]), [
        Row(change="upsert", entity_id="k2", risk_class="C"),
        Row(change="upsert", entity_id="k3", risk_class="D"),
        Row(change="delete", entity_id="k4", risk_class="B"),
    ])


def _rows(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / job.PART).read_text(encoding="utf-8").splitlines()]


def _manifest(folder: Path) -> dict:
    return json.loads((folder / job.MANIFEST).read_text(encoding="utf-8"))


@pytest.fixture
def exported(spark, lake_settings, pipeline_lake, tmp_path):
    """A copy of the shared pipeline lake, exported once on 2024-04-01."""
    from regulake.spark import get_spark

    lake = tmp_path / "lake"
    shutil.copytree(pipeline_lake, lake)
    settings = lake_settings.with_overrides(**{"lake.root": str(lake)})
    get_spark(settings)
    first = job.run(spark, settings, "export-1", date(2024, 4, 1))
    yield settings, lake, first
    get_spark(lake_settings)


def test_exports_follow_the_contract_then_send_only_changes_and_never_twice(spark, exported, monkeypatch):
    settings, lake, first = exported
    outbox = lake / "_outbox"
    feeds = load_all_feeds(EXPORT_SCHEMAS)
    subscribers = [outbox / "national", *sorted((outbox / "departments").iterdir())]
    assert len(subscribers) > 3 and first["deliveries"] >= 3 + len(subscribers) - 1, first
    for subscriber in subscribers:
        assert check_landing(subscriber, feeds=feeds) == [], subscriber

    classes = spark.read.format("delta").load(str(lake / "gold" / "enterprise_risk_class"))
    national = outbox / "national" / "enterprise_risk_class" / "20240401"
    assert _manifest(national)["mode"] == "full" and len(_rows(national)) == classes.count()
    assert set(_rows(national)[0]) == {c.alias for c in feeds["enterprise_risk_class"].columns}
    departments = [p for p in (outbox / "departments").glob("*/dept_risk_class/20240401")]
    assert departments and all(0 < len(_rows(d)) <= classes.count() for d in departments)
    changes = {row["entity_id"] for d in (outbox / "departments").glob("*/dept_risk_class_change/20240401")
               for row in _rows(d)}
    assert changes <= {r[0] for r in classes.where("previous_class <> risk_class").select("entity_id").collect()}

    assert job.run(spark, settings, "export-2", date(2024, 4, 2))["deliveries"] == 0, "nothing changed: nothing sent"

    as_of, entity = classes.where("risk_class <> 'D'").orderBy("entity_id").select("as_of_date", "entity_id").first()
    penalties = spark.read.format("delta").load(str(lake / "gold" / "fct_penalty"))
    decision = penalties.orderBy("decision_no").first()["decision_no"]
    spark.sql(f"UPDATE delta.`{lake}/gold/enterprise_risk_class` SET risk_class = 'D' "
              f"WHERE entity_id = '{entity}' AND as_of_date = DATE'{as_of}'")
    spark.sql(f"DELETE FROM delta.`{lake}/gold/fct_penalty` WHERE decision_no = '{decision}'")
    third = job.run(spark, settings, "export-3", date(2024, 4, 3))
    national = outbox / "national" / "enterprise_risk_class" / "20240403"
    assert _manifest(national)["mode"] == "incremental", _manifest(national)
    assert [(r["change"], r["entity_id"], r["risk_class"]) for r in _rows(national)] == [("upsert", entity, "D")]
    penalty = outbox / "national" / "supervision_penalty" / "20240403"
    assert [(r["change"], r["decision_no"]) for r in _rows(penalty)] == [("delete", decision)]
    assert not (outbox / "national" / "supervision_inspection" / "20240403").exists(), "inspections did not change"
    assert third["deliveries"] >= 2
    for subscriber in subscribers:
        assert check_landing(subscriber, feeds=feeds) == [], subscriber

    # A crash after the manifests, before audit.export_log: the next export records them, sends nothing again.
    spark.sql(f"UPDATE delta.`{lake}/gold/enterprise_risk_class` SET risk_class = 'A' "
              f"WHERE entity_id = '{entity}' AND as_of_date = DATE'{as_of}'")

    def crash(*args, **kwargs):
        raise RuntimeError("killed before logging")

    with monkeypatch.context() as patched:
        patched.setattr(job.lake, "audit_append", crash)
        with pytest.raises(RuntimeError, match="killed before logging"):
            job.run(spark, settings, "export-4", date(2024, 4, 4))
    assert (outbox / "national" / "enterprise_risk_class" / "20240404" / job.MANIFEST).is_file()
    fifth = job.run(spark, settings, "export-5", date(2024, 4, 5))
    assert fifth["deliveries"] == 0 and not list(outbox.glob("**/20240405")), "a delivery was sent twice"
    log = spark.read.format("delta").load(str(lake / "audit" / "export_log"))
    assert log.where("feed_id = 'enterprise_risk_class' AND batch_date = '20240404'").count() == 1
    assert log.groupBy("subscriber", "feed_id", "to_version").count().where("count > 1").count() == 0

    # The national platform rejects the 20240404 delivery and accepted the two before it: the next export
    # sends again everything after the version the last accepted one covered, and then nothing more.
    risk = outbox / "national" / "enterprise_risk_class"
    for batch, status in (("20240401", "accepted"), ("20240403", "accepted"), ("20240404", "rejected")):
        (risk / batch / job.ACK).write_text(json.dumps({"status": status, "reason": "checksum mismatch"}))
    sixth = job.run(spark, settings, "export-6", date(2024, 4, 6))
    resent = risk / "20240406"
    assert sixth["deliveries"] == 1 and _manifest(resent)["source"]["from_version"] == \
        _manifest(risk / "20240403")["source"]["to_version"] + 1, _manifest(resent)
    assert [(r["change"], r["entity_id"], r["risk_class"]) for r in _rows(resent)] == [("upsert", entity, "A")]
    assert job.run(spark, settings, "export-7", date(2024, 4, 7))["deliveries"] == 0


def _delivered(batch: str, start: int | None, end: int, ack: str | None = None) -> job.Delivered:
    return job.Delivered(batch, start, end, ack)


def test_a_rejected_or_unanswered_delivery_is_sent_again_from_the_last_accepted_version():
    full, second, third = _delivered("20240401", None, 5, "accepted"), _delivered("20240402", 6, 8), \
        _delivered("20240403", 9, 9)
    assert job.resend_base([full, second, third], "20240404", 7) == (9, None), "unanswered, but recent"
    assert job.resend_base([full, second, third], "20240411", 7)[0] == 5, "20240402 unanswered for 9 days"
    assert job.resend_base([full, second, third], "20240411", None) == (9, None), "no deadline"
    rejected = _delivered("20240402", 6, 8, "rejected")
    assert job.resend_base([full, rejected, third], "20240404", 7)[0] == 5
    assert job.resend_base([full, rejected, third, _delivered("20240404", 6, 10)], "20240405", 7) == (10, None), \
        "the resend from version 6 settled it"
    assert job.resend_base([_delivered("20240401", None, 5, "rejected")], "20240402", 7)[0] == -1, "full again"
    assert job.resend_base([], "20240402", 7) == (-1, None)
