"""jobs.linking.link_entities on a small lake: first run, an incremental day, an unchanged rerun."""

from __future__ import annotations

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from jobs.linking import job as linking
from regulake.stage_state import delta_version
from synth.scoring.devsilver import write_silver
from tests.stages import context

from .helpers import ENTERPRISE_SCHEMA, enterprise_row, ric, tax_id, uscc

A = uscc("410105", 1)  # 郑州禾卓食品 (金水区)
B = uscc("410212", 2)  # 开封汇久文体用品 (祥符区): a twin of C
C = uscc("410103", 3)  # 汇久文体用品 (二七区)
D = uscc("410311", 4)  # 洛阳万观酒店: registered in the second batch

HOTLINE = "ticket_id string, target_name string, target_address string, region_code string, _record_key string"
SENTIMENT = "item_id string, mentioned_names array<string>, _record_key string"
COURT = ("record_id string, case_code string, party_name string, party_type string, party_id_no string, "
         "_record_key string")
TAX = "taxpayer_id string, taxpayer_name string, eval_year string, _record_key string"
WRITTEN = ("gold.entity_xref", "gold.enterprise_person", "audit.linking_run", "audit.stage_run")
XREF = "feed_id string, record_key string, entity_id string, match_method string"


def _silver(spark, enterprises, hotline, sentiment, court, tax):
    def frame(rows, schema):
        return spark.createDataFrame(rows, schema).withColumn("_is_current", F.lit(True)).withColumn(
            "_dq_flags", F.array().cast("array<string>"))

    return {
        "samr_enterprise": spark.createDataFrame(enterprises, ENTERPRISE_SCHEMA),
        "hotline_12345": frame(hotline, HOTLINE),
        "sentiment": frame(sentiment, SENTIMENT),
        "court_dishonest": frame(court, COURT),
        "tax_credit": frame(tax, TAX),
    }


ENTERPRISES_1 = [
    enterprise_row(A, "郑州禾卓食品有限公司", "410105", "河南省郑州市金水区文化路12号", rep_ric=ric(1)),
    enterprise_row(B, "开封汇久文体用品有限公司", "410212", "河南省开封市祥符区北大街260号", rep_ric=ric(1), record_no=2),
    enterprise_row(C, "汇久文体用品有限公司", "410103", "河南省郑州市二七区中州大道151号", record_no=3),
]
HOTLINE_1 = [
    ("RX1", "禾卓食品", None, "410105", "RX1"),
    ("RX2", "汇久文体用品有限公司", None, "410212", "RX2"),
    ("RX3", "洛阳万观酒店有限公司", "洛阳市洛龙区中州路57号", "410311", "RX3"),
    ("RX4", None, None, None, "RX4"),  # about no business
]
SENTIMENT_1 = [("WX1", ["郑州禾卓食品有限公司", "路边烧烤摊"], "WX1")]
COURT_1 = [("SX1", "(2024)豫0212执1号", "胡保国", "自然人", ric(1), "SX1"),
           ("SX2", "(2024)豫0105执2号", "郑州禾卓食品有限公司", "法人", A, "SX2")]
TAX_1 = [(tax_id("410103", 3), "汇久文体用品有限公司", "2023", f"{tax_id('410103', 3)}|2023")]


@pytest.fixture(scope="module")
def lake(lake_settings, tmp_path_factory):
    return lake_settings.with_overrides(**{"lake.root": str(tmp_path_factory.mktemp("linking-lake"))})


def _xref(spark, lake):
    return spark.read.format("delta").load(lake.table_path("gold", "entity_xref"))


@pytest.mark.slow
def test_first_run_then_incremental_then_rerun(spark, lake):
    write_silver(spark, lake, _silver(spark, ENTERPRISES_1, HOTLINE_1, SENTIMENT_1, COURT_1, TAX_1))
    first = linking.run(context(spark, lake, "run-1"))
    assert first["linked_this_run"] == first["mentions"] == 11
    assertDataFrameEqual(
        _xref(spark, lake).select("feed_id", "record_key", "entity_id", "match_method"),
        spark.createDataFrame(
            [("samr_enterprise", A, A, "uscc"), ("samr_enterprise", B, B, "uscc"), ("samr_enterprise", C, C, "uscc"),
             ("hotline_12345", "RX1", A, "name_fuzzy"),
             ("hotline_12345", "RX2", B, "name_fuzzy"),  # the twin in the record's region, not the exact name
             ("hotline_12345", "RX3", None, "none"),
             ("sentiment", "WX1|0", A, "name_exact"), ("sentiment", "WX1|1", None, "none"),
             ("court_dishonest", "SX1", B, "ric"),  # represents A and B: the one in the court's county
             ("court_dishonest", "SX2", A, "uscc"),
             ("tax_credit", f"{tax_id('410103', 3)}|2023", C, "tax_id")],
            XREF,
        ),
    )
    people = spark.read.format("delta").load(lake.table_path("gold", "enterprise_person"))
    assert {r["entity_id"]: r["enterprises_represented"] for r in people.collect()} == {A: 2, B: 2, C: 1}

    # Next day: D registers (RX3 can now link), a new ticket, WX1 re-delivered with one name.
    enterprises_2 = ENTERPRISES_1 + [
        enterprise_row(D, "洛阳万观酒店有限公司", "410311", "河南省洛阳市洛龙区中州路57号", batch="20240229")]
    hotline_2 = HOTLINE_1 + [("RX5", "郑州禾卓食品有限公司", None, None, "RX5")]
    write_silver(spark, lake, _silver(spark, enterprises_2, hotline_2, [("WX1", ["郑州禾卓食品有限公司"], "WX1")],
                                      COURT_1, TAX_1))
    second = linking.run(context(spark, lake, "run-2"))
    assert (second["new_enterprises"], second["retried_unlinked"]) == (1, 1)
    xref = {r["record_key"]: (r["entity_id"], r["match_method"], r["_run_id"]) for r in _xref(spark, lake).collect()}
    assert xref["RX3"] == (D, "name_exact", "run-2")
    assert xref["RX5"] == (A, "name_exact", "run-2")
    assert xref["RX1"] == (A, "name_fuzzy", "run-1")  # history is not relinked
    assert "WX1|1" not in xref  # no longer a current mention
    assert xref[D] == (D, "uscc", "run-2")

    # Unchanged silver: the rerun is skipped and writes nothing at all.
    versions = {t: delta_version(spark, lake.table_path(*t.split("."))) for t in WRITTEN}
    third = linking.run(context(spark, lake, "run-3"))
    assert third["skipped"] == "inputs unchanged"
    assert {t: delta_version(spark, lake.table_path(*t.split("."))) for t in WRITTEN} == versions
    runs = spark.read.format("delta").load(lake.table_path("audit", "linking_run"))
    assert [r["run_id"] for r in runs.orderBy("finished_at").collect()] == ["run-1", "run-2"]

    # New silver versions with the same records: linking runs and links nothing new.
    write_silver(spark, lake, _silver(spark, enterprises_2, hotline_2, [("WX1", ["郑州禾卓食品有限公司"], "WX1")],
                                      COURT_1, TAX_1))
    fourth = linking.run(context(spark, lake, "run-4"))
    assert (fourth["linked_this_run"], fourth["new_enterprises"]) == (0, 0)
    assert _xref(spark, lake).where("_run_id = 'run-4'").count() == 0


def test_select_work_takes_new_changed_and_retried_mentions_only(spark):
    from jobs.linking.job import select_work

    mentions = spark.createDataFrame(
        [("hotline_12345", "RX1", "hotline_12345#RX1", "h1"), ("hotline_12345", "RX2", "hotline_12345#RX2", "h2-new"),
         ("hotline_12345", "RX3", "hotline_12345#RX3", "h3"), ("hotline_12345", "RX4", "hotline_12345#RX4", "h4")],
        "feed_id string, record_key string, mention_id string, input_hash string",
    )
    previous = spark.createDataFrame(
        [("hotline_12345", "RX1", "h1"), ("hotline_12345", "RX2", "h2"), ("hotline_12345", "RX3", "h3")],
        "feed_id string, record_key string, _input_hash string",
    )
    retry = spark.createDataFrame([("hotline_12345", "RX3")], "feed_id string, record_key string")
    got = select_work(mentions, previous, retry)
    assert sorted(r["record_key"] for r in got.collect()) == ["RX2", "RX3", "RX4"]
    assert select_work(mentions, None, None).count() == 4


def test_unlinked_rows_are_retried_when_a_new_enterprise_shares_a_key(spark):
    from jobs.linking.job import to_retry

    previous = spark.createDataFrame(
        [("hotline_12345", "RX1", "none", ["bk_core=万观酒店", "bk_name=洛阳万观酒店有限公司"]),
         ("hotline_12345", "RX2", "none", ["bk_core=路边烧烤摊"]),
         ("tax_credit", "T1", "none", [f"uscc={D}"]),
         ("hotline_12345", "RX3", "name_exact", None)],
        "feed_id string, record_key string, match_method string, _retry_keys array<string>",
    )
    new_keys = spark.createDataFrame([("bk_core=万观酒店",), (f"uscc={D}",), ("bk_core=禾卓食品",)], "retry_key string")
    got = to_retry(previous, new_keys)
    assert sorted((r["feed_id"], r["record_key"]) for r in got.collect()) == \
        [("hotline_12345", "RX1"), ("tax_credit", "T1")]
