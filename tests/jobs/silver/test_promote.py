"""promote_feed end to end on a throwaway lake: gate, quarantine, MERGE, currency, accounting, reruns."""

from __future__ import annotations

from pathlib import Path

import pytest
from delta.tables import DeltaTable
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from jobs.silver import job as silver_job
from jobs.silver.gate import GateFailed
from jobs.silver.job import pending_deliveries
from tests.stages import context, without_spark

from .helpers import FakeLanding


def penalty(n: int, updated_at: str = "2024-01-01 10:00:00", **changes) -> dict:
    record = {"decision_no": f"郑市监罚〔2024〕{n}号", "uscc": "91411723MA92CK0T2L", "ent_name": f"企业{n}",
              "violation_type": "虚假宣传", "penalty_types": "警告;罚款", "fine_amount": "10,000",
              "severity": "1", "decision_date": "2024-01-05", "authority": "郑州市市场监督管理局",
              "updated_at": updated_at}
    record.update(changes)
    return record


def table(spark, settings, layer: str, name: str):
    return spark.read.format("delta").load(settings.table_path(layer, name))


def test_promote_end_to_end(spark, lake, monkeypatch):
    landing = FakeLanding(spark, lake, "samr_penalty")
    landing.deliver("20240101", [
        *[penalty(n) for n in range(1, 9)],
        penalty(9, violation_type=" "),             # missing_required
        penalty(10, decision_date="2024-02-30"),    # invalid_value
        penalty(11, uscc="91411723MA92CK0T2M"),     # check digit: kept, flagged
    ], landing_quarantined=1)
    landing.deliver("20240102", [
        penalty(1),                                 # exact duplicate of 20240101
        penalty(1, "2024-01-02 09:00:00", fine_amount="2万"),  # a new version
        penalty(12), penalty(12),                   # duplicate within the delivery
    ])
    summary = silver_job.run(context(spark, lake, "run-1", feed_id="samr_penalty"))
    assert summary["promoted"] == ["20240101", "20240102"] and summary["held"] == []
    assert summary.get("unreconciled") == []

    silver = table(spark, lake, "silver", "samr_penalty")
    assert silver.count() == 11  # 9 accepted + P1 v2 + P12
    current = spark.sql("SELECT * FROM silver.samr_penalty_current")
    assert current.count() == 10
    p1 = current.where(F.col("_record_key") == "郑市监罚〔2024〕1号").first()
    assert (p1._batch_date, float(p1.fine_amount), p1._version_rank) == ("20240102", 20000.0, 1)
    flagged = silver.where(F.col("_record_key") == "郑市监罚〔2024〕11号").first()
    assert flagged._dq_flags == ["uscc:check_digit"] and flagged.uscc == "91411723MA92CK0T2M"

    quarantine = table(spark, lake, "audit", "quarantine").where("stage = 'silver'")
    assertDataFrameEqual(quarantine.select("batch_date", "record_no", "reason_code"),
                         [("20240101", 10, "missing_required"), ("20240101", 11, "invalid_value")],
                         )
    accounting = table(spark, lake, "audit", "row_accounting").select(
        "batch_date", "manifest_rows", "rows_in", "rows_quarantined", "rows_duplicate", "rows_accepted",
        "reconciled")
    assertDataFrameEqual(accounting, [("20240101", 12, 12, 3, 0, 9, True), ("20240102", 4, 4, 0, 2, 2, True)])

    gate = table(spark, lake, "audit", "gate_result")
    assert {r.outcome for r in gate.collect()} == {"promoted"}
    docs = Path(summary["data_docs"][0].removeprefix("file://"))
    assert docs.is_file() and str(docs).startswith(lake.lake_root + "/_data_docs/")

    # A rerun finds nothing pending and changes nothing.
    versions = {name: DeltaTable.forPath(spark, lake.table_path(layer, name)).history().count()
                for layer, name in [("silver", "samr_penalty"), ("audit", "row_accounting"),
                                    ("audit", "quarantine"), ("audit", "gate_result")]}
    assert pending_deliveries(lake, "samr_penalty") == []
    # Decided from the audit log alone: no Spark session is asked for.
    assert silver_job.run(without_spark(lake, "run-2", monkeypatch, feed_id="samr_penalty"))["promoted"] == []
    assert versions == {name: DeltaTable.forPath(spark, lake.table_path(layer, name)).history().count()
                        for layer, name in [("silver", "samr_penalty"), ("audit", "row_accounting"),
                                            ("audit", "quarantine"), ("audit", "gate_result")]}


def enterprise(n: int, updated_at: str, **changes) -> dict:
    usccs = {1: "91411723MA92CK0T2L", 2: "91410105786657759N", 3: "91410103914428070Y",
             4: "92410506911126245T"}
    record = {"uscc": usccs[n], "ent_name": f"企业{n}", "ent_type": "有限责任公司", "legal_rep_name": "张三",
              "reg_capital": "100", "establish_date": "2016-01-01", "status": "存续", "region_code": "410105",
              "industry_code": "C13", "updated_at": updated_at}
    record.update(changes)
    return record


ENTERPRISE_DELIVERIES = {
    "20240101": ("full", [enterprise(1, "2024-01-01 09:00:00"), enterprise(2, "2024-01-01 09:00:00"),
                          enterprise(3, "2024-01-01 09:00:00")]),
    "20240102": ("incremental", [enterprise(2, "2024-01-02 09:00:00", status="注销"),
                                 enterprise(4, "2024-01-02 09:00:00")]),
    "20240103": ("full", [enterprise(1, "2024-01-01 09:00:00"),            # identical: confirms E1
                          enterprise(2, "2024-01-02 09:00:00", status="注销"),  # identical to 20240102
                          enterprise(4, "2024-01-03 09:00:00", reg_capital="200")]),  # E3 is gone
}


def _promote_in_order(spark, settings, order: list[str]):
    landing = FakeLanding(spark, settings, "samr_enterprise")
    for batch in order:
        mode, records = ENTERPRISE_DELIVERIES[batch]
        landing.deliver(batch, records, mode=mode)
        silver_job.run(context(spark, settings, f"run-{batch}", feed_id="samr_enterprise"))
    # _promotion_seq counts promotions, which differ with the order: everything else must not.
    silver = table(spark, settings, "silver", "samr_enterprise").drop("_outlier_flags", "_promotion_seq")
    accounting = table(spark, settings, "audit", "row_accounting").drop("accounted_at")
    return silver, accounting


@pytest.mark.slow  # six gated runs on two lakes; tests/jobs/silver/test_versions.py covers the logic quickly
def test_reverse_order_gives_the_same_silver(spark, lake, lake_settings, tmp_path):
    from regulake.spark import get_spark

    forward, forward_accounting = _promote_in_order(spark, lake, ["20240101", "20240102", "20240103"])
    forward, forward_accounting = forward.localCheckpoint(), forward_accounting.localCheckpoint()
    other = lake_settings.with_overrides(**{"lake.root": str(tmp_path / "reverse")})
    get_spark(other)
    backward, backward_accounting = _promote_in_order(spark, other, ["20240103", "20240102", "20240101"])
    assertDataFrameEqual(backward, forward)
    assertDataFrameEqual(backward_accounting, forward_accounting)

    state = {(r._record_key[-1], r._batch_date): (r._version_rank, r._is_current)
             for r in forward.collect()}
    assert state == {
        ("L", "20240101"): (1, True),    # E1 held by the latest full delivery
        ("N", "20240101"): (2, False),   # E2's first version
        ("N", "20240102"): (1, True),    # E2's second version; its copy in 20240103 is a duplicate
        ("Y", "20240101"): (1, False),   # E3 no longer in the latest full delivery
        ("T", "20240102"): (2, False),
        ("T", "20240103"): (1, True),
    }
    duplicates = {r.batch_date: r.rows_duplicate for r in forward_accounting.collect()}
    assert duplicates == {"20240101": 0, "20240102": 0, "20240103": 2}


def test_gate_holds_back_a_bad_delivery(spark, lake):
    landing = FakeLanding(spark, lake, "samr_abnormal_list")

    def listing(n: int, **changes) -> dict:
        record = {"record_id": f"YC{n:04d}", "uscc": "91411723MA92CK0T2L", "reason": "01",
                  "listed_date": "2024-01-10", "updated_at": "2024-01-10 10:00:00"}
        record.update(changes)
        return record

    landing.deliver("20240201", [listing(n, listed_date="" if n <= 6 else "2024-01-10") for n in range(1, 11)])
    landing.deliver("20240202", [listing(n) for n in range(20, 23)])
    with pytest.raises(GateFailed) as failure:
        silver_job.run(context(spark, lake, "run-1", feed_id="samr_abnormal_list"))
    message = str(failure.value)
    assert "feed samr_abnormal_list, batch 20240201 held back" in message
    assert "expect_column_values_to_not_be_null(column=listed_date__status)" in message
    assert "part-0001.csv#1: missing_required (missing_required: listed_date)" in message
    docs = message.split("Data Docs: ")[1].strip().removeprefix("file://")
    page = Path(docs).read_text(encoding="utf-8")
    assert "listed_date__status" in page
    assert "must not be null" in page and "unexpected values found" in page  # the failures, shown
    # The other delivery was promoted; the held one stays pending (and in bronze).
    silver = table(spark, lake, "silver", "samr_abnormal_list")
    assert {r._batch_date for r in silver.collect()} == {"20240202"}
    assert [d.batch_date for d in pending_deliveries(lake, "samr_abnormal_list")] == ["20240201"]
    gate = {r.batch_date: r.outcome for r in table(spark, lake, "audit", "gate_result").collect()}
    assert gate == {"20240201": "held", "20240202": "promoted"}

    # A rerun under the same rules does not evaluate it again: it fails the same way and writes nothing.
    versions = {name: DeltaTable.forPath(spark, lake.table_path("audit", name)).history().count()
                for name in ("gate_result", "quarantine", "row_accounting")}
    with pytest.raises(GateFailed, match="verdict of an earlier run") as again:
        silver_job.run(context(spark, lake, "run-2", feed_id="samr_abnormal_list"))
    assert "feed samr_abnormal_list, batch 20240201 held back" in str(again.value)
    assert versions == {name: DeltaTable.forPath(spark, lake.table_path("audit", name)).history().count()
                        for name in ("gate_result", "quarantine", "row_accounting")}

    # New rules (here: a changed digest) evaluate it again.
    import jobs.silver.job as promote

    original = promote.gate_digest
    promote.gate_digest = lambda feed_id: original(feed_id) + "-changed"
    try:
        with pytest.raises(GateFailed) as third:
            silver_job.run(context(spark, lake, "run-3", feed_id="samr_abnormal_list"))
    finally:
        promote.gate_digest = original
    assert "verdict of an earlier run" not in str(third.value)
    assert table(spark, lake, "audit", "gate_result").where("run_id = 'run-3'").count() == 1
    from jobs.silver.job import held_deliveries

    assert held_deliveries(spark, lake) == [("samr_abnormal_list", "20240201")]
