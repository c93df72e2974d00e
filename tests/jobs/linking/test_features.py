"""jobs.linking.features: region evidence of mentions, and bounded blocks."""

from __future__ import annotations

from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from jobs.linking import features

MENTION_SCHEMA = ("mention_id string, name string, address string, region_code string, court_region string, "
                  "id_region string, id_value string, id_kinds array<string>")


def test_region_evidence_most_reliable_source_first(spark):
    mentions = spark.createDataFrame(
        [
            # record region code beats the address and the name prefix
            ("code", "郑州禾卓食品有限公司", "开封市龙亭区五一路1号", "410105", None, None, None, []),
            # the address names a county; the name's prefix only a city
            ("address", "郑州禾卓食品有限公司", "中牟县航海路392号", None, None, None, None, []),
            ("name", "郑州禾卓食品有限公司", None, None, None, None, None, []),
            ("court", "禾卓食品有限公司", None, None, "410100", None, None, []),
            ("reg_no", "禾卓食品有限公司", None, None, None, "410185", "410185000000014", ["reg_no"]),
            ("branch", "禾卓食品有限公司(义马店)", None, None, None, None, None, []),
            ("none", "禾卓食品", "五一路1号", None, None, None, None, []),
        ],
        MENTION_SCHEMA,
    )
    got = features.mention_features(mentions).select("unique_id", "county", "city", "reg_no")
    assertDataFrameEqual(
        got,
        spark.createDataFrame(
            [("code", "410105", "4101", None), ("address", "410122", "4101", None), ("name", None, "4101", None),
             ("court", None, "4101", None), ("reg_no", "410185", "4101", "410185000000014"),
             ("branch", "411281", "4112", None), ("none", None, None, None)],
            "unique_id string, county string, city string, reg_no string",
        ),
    )


def test_enterprise_features_use_the_registered_region(spark):
    enterprises = spark.createDataFrame(
        [("E1", "洛阳市创东佳酒店有限公司", "410307", "河南省洛阳市偃师区南昌路219号", None),
         ("E2", "济源阳豫置业有限公司", "419001", None, "41900100000001")],
        "uscc string, ent_name string, region_code string, address string, reg_no string",
    )
    got = features.enterprise_features(enterprises).select("unique_id", "core", "county", "city", "addr_key")
    assertDataFrameEqual(
        got,
        spark.createDataFrame(
            [("E1", "创东佳酒店", "410307", "4103", "nanchanglu219"), ("E2", "阳豫置业", "419001", "4190", None)],
            "unique_id string, core string, county string, city string, addr_key string",
        ),
    )


def test_blocking_keys_are_null_when_a_part_is_missing(spark):
    frame = spark.createDataFrame([("m1", "禾卓食品", "禾卓", None, "wuyilu1")],
                                  "unique_id string, core string, trade string, city string, addr_key string")
    keyed = features.with_blocking_keys(frame, ("bk_core", "bk_core_city", "bk_trade_city", "bk_addr")).first()
    assert (keyed["bk_core"], keyed["bk_core_city"], keyed["bk_trade_city"], keyed["bk_addr"]) == \
        ("禾卓食品", None, None, None)


def test_cap_blocks_drops_key_values_shared_by_too_many_enterprises(spark):
    frame = spark.createDataFrame(
        [("E1", "小王超市", "小王超市|4101"), ("E2", "小王超市", "小王超市|4102"), ("E3", "小王超市", "小王超市|4103"),
         ("E4", "禾卓食品", "禾卓食品|4101")],
        "unique_id string, bk_core string, bk_core_city string",
    )
    capped = features.cap_blocks(frame, ("bk_core", "bk_core_city"), max_block=2)
    assertDataFrameEqual(
        capped.orderBy("unique_id"),
        spark.createDataFrame(
            [("E1", None, "小王超市|4101"), ("E2", None, "小王超市|4102"), ("E3", None, "小王超市|4103"),
             ("E4", "禾卓食品", "禾卓食品|4101")],
            "unique_id string, bk_core string, bk_core_city string",
        ),
    )
    assert capped.where(F.col("bk_core_city").isNull()).count() == 0
