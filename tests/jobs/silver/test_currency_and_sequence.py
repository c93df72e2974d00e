"""Issue 13: full snapshots that must not end currency, and the promotion sequence incremental consumers
select by (a delivery held by the gate and released later must still reach them)."""

from __future__ import annotations

import dataclasses

import pytest
from pyspark.sql import functions as F

from jobs.silver import job as silver_job
from jobs.silver.gate import GateFailed
from jobs.silver.quality import feed_quality
from tests.stages import context

from .helpers import FakeLanding

USCCS = {1: "91411723MA92CK0T2L", 2: "91410105786657759N", 3: "91410103914428070Y", 4: "92410506911126245T"}


def enterprise(n: int, updated_at: str = "2024-01-01 09:00:00", **changes) -> dict:
    record = {"uscc": USCCS[n], "ent_name": f"企业{n}", "ent_type": "有限责任公司", "legal_rep_name": "张三",
              "reg_capital": "100", "establish_date": "2016-01-01", "status": "存续", "region_code": "410105",
              "industry_code": "C13", "updated_at": updated_at}
    record.update(changes)
    return record


def table(spark, settings, layer: str, name: str):
    return spark.read.format("delta").load(settings.table_path(layer, name))


def current_keys(spark, settings, feed_id: str) -> set[str]:
    return {r._record_key for r in spark.sql(f"SELECT _record_key FROM silver.{feed_id}_current").collect()}


def promote(spark, settings, feed_id: str, run_id: str) -> dict:
    return silver_job.run(context(spark, settings, run_id, feed_id=feed_id))


def test_header_only_or_truncated_full_delivery_is_held_and_leaves_the_current_view(spark, lake):
    landing = FakeLanding(spark, lake, "samr_enterprise")
    landing.deliver("20240101", [enterprise(1), enterprise(2), enterprise(3), enterprise(4)], mode="full")
    promote(spark, lake, "samr_enterprise", "run-1")
    before = current_keys(spark, lake, "samr_enterprise")
    assert before == set(USCCS.values())

    landing.deliver("20240201", [], mode="full")  # header only
    landing.deliver("20240202", [enterprise(1)], mode="full")  # truncated: 1 of 4 records
    with pytest.raises(GateFailed) as failure:
        promote(spark, lake, "samr_enterprise", "run-2")
    message = str(failure.value)
    assert "batch 20240201 held back" in message and "batch 20240202 held back" in message
    assert "expect_table_row_count_to_be_between" in message and "previous full delivery 20240101" in message
    gate = {r.batch_date: r.outcome for r in table(spark, lake, "audit", "gate_result").collect()}
    assert gate == {"20240101": "promoted", "20240201": "held", "20240202": "held"}
    assert current_keys(spark, lake, "samr_enterprise") == before

    # An increment is not compared with anything, and a full snapshot of about the same size passes.
    landing.deliver("20240301", [enterprise(2), enterprise(3), enterprise(4, "2024-03-01 09:00:00")], mode="full")
    with pytest.raises(GateFailed):  # the two held ones still are
        promote(spark, lake, "samr_enterprise", "run-3")
    assert current_keys(spark, lake, "samr_enterprise") == {USCCS[2], USCCS[3], USCCS[4]}


def test_a_record_quarantined_in_a_full_snapshot_keeps_its_current_version(spark, lake):
    landing = FakeLanding(spark, lake, "samr_enterprise")
    landing.deliver("20240101", [enterprise(1), enterprise(2), enterprise(3)], mode="full")
    promote(spark, lake, "samr_enterprise", "run-1")
    # E3 is in the snapshot, but its record is quarantined (invalid_value): it is not "missing".
    landing.deliver("20240201", [enterprise(1), enterprise(2), enterprise(3, establish_date="2016-02-30")],
                    mode="full")
    summary = promote(spark, lake, "samr_enterprise", "run-2")
    assert summary["promoted"] == ["20240201"] and summary["unreconciled"] == []
    quarantine = table(spark, lake, "audit", "quarantine").where("stage = 'silver'").collect()
    assert [(q.batch_date, q.reason_code) for q in quarantine] == [("20240201", "invalid_value")]
    assert current_keys(spark, lake, "samr_enterprise") == {USCCS[1], USCCS[2], USCCS[3]}
    # ... while a key the snapshot does not hold at all loses its currency.
    landing.deliver("20240301", [enterprise(1), enterprise(2)], mode="full")
    promote(spark, lake, "samr_enterprise", "run-3")
    assert current_keys(spark, lake, "samr_enterprise") == {USCCS[1], USCCS[2]}
    accounting = {r.batch_date: (r.rows_in, r.rows_quarantined, r.rows_duplicate, r.rows_accepted)
                  for r in table(spark, lake, "audit", "row_accounting").collect()}
    assert accounting == {"20240101": (3, 0, 0, 3), "20240201": (3, 1, 2, 0), "20240301": (2, 0, 2, 0)}


def test_a_held_then_released_delivery_gets_a_later_promotion_sequence(spark, lake, monkeypatch):
    landing = FakeLanding(spark, lake, "samr_abnormal_list")

    def listing(n: int, **changes) -> dict:
        record = {"record_id": f"YC{n:04d}", "uscc": USCCS[1], "reason": "01", "listed_date": "2024-01-10",
                  "updated_at": "2024-01-10 10:00:00"}
        record.update(changes)
        return record

    landing.deliver("20240101", [listing(1)])
    promote(spark, lake, "samr_abnormal_list", "run-1")
    # 20240201 lands first and is held; 20240202 lands later and is promoted.
    landing.deliver("20240201", [listing(n, listed_date="" if n <= 6 else "2024-01-10") for n in range(1, 11)])
    landing.deliver("20240202", [listing(n) for n in range(20, 23)])
    with pytest.raises(GateFailed):
        promote(spark, lake, "samr_abnormal_list", "run-2")
    silver = table(spark, lake, "silver", "samr_abnormal_list")
    # What an incremental consumer built after run-2 has seen (its watermark).
    built_upto = silver.agg(F.max("_promotion_seq")).first()[0]
    assert {r._batch_date for r in silver.where(F.col("_promotion_seq") > 0).collect()} == {"20240202"}

    # The department's data is accepted as it is: the threshold is raised, the held delivery released.
    lenient = dataclasses.replace(feed_quality(landing.schema), max_quarantine_share=1.0, max_flagged_share=1.0)
    monkeypatch.setattr(silver_job, "feed_quality", lambda schema: lenient)
    monkeypatch.setattr(silver_job, "gate_digest", lambda feed_id: "raised-threshold")
    assert promote(spark, lake, "samr_abnormal_list", "run-3")["promoted"] == ["20240201"]

    silver = table(spark, lake, "silver", "samr_abnormal_list")
    released = silver.where(F.col("_batch_date") == "20240201")
    assert released.count() == 4  # YC0007..YC0010 (YC0001..YC0006 quarantined); YC0001 of 20240101 stays
    # The released rows were ingested before 20240202's, yet an incremental consumer selecting by
    # _promotion_seq > its watermark takes them; by _ingested_at it never would.
    picked = silver.where(F.col("_promotion_seq") > built_upto)
    assert {r._batch_date for r in picked.collect()} == {"20240201"}
    assert silver.where(F.col("_batch_date") == "20240202").agg(F.max("_promotion_seq")).first()[0] <= built_upto
    assert {r._promotion_seq for r in silver.where(F.col("_batch_date") == "20240101").collect()} == {0}
