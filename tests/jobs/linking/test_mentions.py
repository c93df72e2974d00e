"""jobs.linking.mentions: which records refer to a business, keyed as gold.entity_xref keys them."""

from __future__ import annotations

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from jobs.linking.config import load_linking_config
from jobs.linking.mentions import extract_mentions


@pytest.fixture(scope="module")
def config():
    return load_linking_config()


def _pick(df, *columns):
    return df.select(*columns)


def test_hotline_ticket_without_a_business_gets_no_mention(spark, config):
    hotline = spark.createDataFrame(
        [("RX1", "二七区小蒋理发店", "长江路1号", "410103", [], "RX1"),
         ("RX2", None, None, None, [], "RX2"),  # 咨询营业执照办理流程: about no business
         ("RX3", " 永晨物流 ", None, "4101", [], "RX3")],  # region code not 6 digits: not evidence
        "ticket_id string, target_name string, target_address string, region_code string, "
        "_dq_flags array<string>, _record_key string",
    )
    got = extract_mentions(hotline, config.feeds["hotline_12345"])
    assertDataFrameEqual(
        _pick(got, "mention_id", "record_key", "id_raw", "name", "address", "region_code", "is_person"),
        spark.createDataFrame(
            [("hotline_12345#RX1", "RX1", None, "二七区小蒋理发店", "长江路1号", "410103", False),
             ("hotline_12345#RX3", "RX3", None, "永晨物流", None, None, False)],
            "mention_id string, record_key string, id_raw string, name string, address string, "
            "region_code string, is_person boolean",
        ),
    )


def test_sentiment_has_one_mention_per_name_keyed_by_position(spark, config):
    items = spark.createDataFrame(
        [("WX1", ["郑州禾卓食品有限公司", "小王超市"], "WX1"),
         ("WX2", None, "WX2"),
         ("WX3", ["", "瑞明培训"], "WX3")],  # an empty item keeps its position
        "item_id string, mentioned_names array<string>, _record_key string",
    )
    got = extract_mentions(items, config.feeds["sentiment"])
    assertDataFrameEqual(
        _pick(got, "record_key", "name"),
        spark.createDataFrame([("WX1|0", "郑州禾卓食品有限公司"), ("WX1|1", "小王超市"), ("WX3|1", "瑞明培训")],
                              "record_key string, name string"),
    )


def test_court_records_carry_person_flag_court_region_and_silver_flags(spark, config):
    court = spark.createDataFrame(
        [("SX1", "(2024)豫0105执12号", "张超", "自然人", "410122200001010011", [], "SX1"),
         ("SX2", "(2024)豫01执3号", "河南宏宸保洁服务有限公司", "法人", "91410411MA90R6RB93",
          ["party_id_no:check_digit"], "SX2"),
         ("SX3", "(2024)执5号", "河南瑞明培训有限责任公司", "1", None, [], "SX3")],
        "record_id string, case_code string, party_name string, party_type string, party_id_no string, "
        "_dq_flags array<string>, _record_key string",
    )
    got = extract_mentions(court, config.feeds["court_dishonest"])
    assertDataFrameEqual(
        _pick(got, "record_key", "is_person", "court_region", "id_flagged"),
        spark.createDataFrame(
            [("SX1", True, "410105", False), ("SX2", False, "410100", True), ("SX3", False, None, False)],
            "record_key string, is_person boolean, court_region string, id_flagged boolean",
        ),
    )


def test_input_hash_changes_only_with_what_linking_reads(spark, config):
    rows = [("RX1", "永晨物流", "投诉", "RX1"), ("RX2", "永晨物流", "咨询", "RX2"), ("RX3", "永晨物流有限公司", "投诉", "RX3")]
    hotline = spark.createDataFrame(rows, "ticket_id string, target_name string, category string, _record_key string")
    hashes = {r["record_key"]: r["input_hash"] for r in extract_mentions(hotline, config.feeds["hotline_12345"])
              .select("record_key", "input_hash").collect()}
    assert hashes["RX1"] == hashes["RX2"]  # the category is not a linking input
    assert hashes["RX1"] != hashes["RX3"]


def test_identifier_feed_without_identifier_or_name_gets_no_mention(spark, config):
    events = spark.createDataFrame(
        [("EV1", "91410105MA9NYMWP83", "EV1"), ("EV2", None, "EV2"), ("EV3", "  ", "EV3")],
        "event_id string, subject_uscc string, _record_key string",
    )
    got = extract_mentions(events, config.feeds["coop_task_event"])
    assert [r["record_key"] for r in got.select("record_key").collect()] == ["EV1"]
    assert got.where(F.col("name").isNotNull()).count() == 0
