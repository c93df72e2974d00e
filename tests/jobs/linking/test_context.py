"""Context rules of name linking: trade names, owners' shops and look-alikes (jobs/linking/context.py)."""

from __future__ import annotations

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from jobs.linking.config import load_linking_config
from jobs.linking.context import decide_by_context, mention_clues, owner_of, reject_lookalikes


@pytest.fixture(scope="module")
def rules():
    return load_linking_config().context


@pytest.mark.parametrize(("name", "owner"), [
    ("陈辉的店", ("陈辉", "陈")),
    ("陈家辉家的烩面馆", ("陈家辉", "陈")),
    ("老王家的饭馆", (None, "王")),
    ("小王的店", (None, "王")),
    ("王家的超市", (None, "王")),
    ("铭祺", (None, None)),
    ("郑州铭祺餐饮有限公司", (None, None)),
])
def test_owner_of_reads_the_spoken_shapes(name, owner):
    assert owner_of(name) == owner


def test_industry_words_take_the_longest_word_first(rules):
    assert rules.industries("老王家的烩面馆") == ["H62"]
    assert rules.industries("反映在该店就餐后出现腹泻") == ["H62"]
    assert rules.industries("汽车维修") == ["O81"]  # not also 修理 words of other sections
    assert rules.industries("反映噪音扰民") == []


# Enterprises of county 410105 (Zhengzhou) unless said otherwise.
ENTERPRISES = [
    # uscc, core, ent_type, legal_rep_name, industry_code, region_code
    ("E1", "铭祺餐饮", "有限责任公司", "李雷", "H62", "410105"),
    ("E2", "华瑞数据科技", "有限责任公司", "韩梅", "I65", "410105"),
    ("E3", "华瑞超市", "个体工商户", "陈辉", "F52", "410105"),
    ("E4", "华瑞物流", "有限责任公司", "赵六", "G59", "410102"),
    ("E5", "老王烩面馆", "个体工商户", "王强", "H62", "410105"),
    ("E6", "王记五金店", "个体工商户", "王刚", "F52", "410105"),
    ("E7", "陈辉服装店", "个体工商户", "陈辉", "F52", "410302"),  # the same name in Luoyang
]

# mention_id, name_text, core, county, city, context
MENTIONS = [
    ("m_trade", "铭祺", "铭祺", "410105", "4101", None),              # one 铭祺 in the county
    ("m_trade_far", "铭祺", "铭祺", "410302", "4103", None),          # none in Luoyang
    ("m_trade_two", "华瑞", "华瑞", "410105", "4101", "反映商品质量问题"),  # two in the county, text names nothing
    ("m_trade_ind", "华瑞", "华瑞", "410105", "4101", "该超市销售过期食品"),  # two; the text's industry leaves one
    ("m_trade_noplace", "铭祺", "铭祺", None, None, None),            # no place: no link
    ("m_owner", "陈辉的店", "陈辉的", "410105", "4101", None),        # full name in the county
    ("m_owner_city", "陈辉的店", "陈辉的", None, "4103", None),        # full name, city only
    ("m_surname_two", "老王家的店", "老王家的", "410105", "4101", None),  # two 王 shops: ambiguous
    ("m_surname_ind", "老王家的饭馆", "老王家的", "410105", "4101", None),  # the name's industry leaves one
]


def _clued(spark, rules, rows):
    frame = spark.createDataFrame(rows, "mention_id string, name_text string, core string, county string, "
                                        "city string, context string")
    return mention_clues(frame, rules)


def _enterprises(spark):
    return spark.createDataFrame(ENTERPRISES, "uscc string, core string, ent_type string, legal_rep_name string, "
                                              "industry_code string, region_code string")


def test_trade_names_and_owners_link_only_when_the_context_leaves_one(spark, rules):
    links = decide_by_context(_clued(spark, rules, MENTIONS), _enterprises(spark), rules)
    expected = [("m_trade", "E1", "trade_name"), ("m_trade_ind", "E3", "trade_name"),
                ("m_owner", "E3", "owner_name"), ("m_owner_city", "E7", "owner_name"),
                ("m_surname_ind", "E5", "owner_name")]
    assertDataFrameEqual(links.select("mention_id", "entity_id", "match_rule"),
                         spark.createDataFrame(expected, "mention_id string, entity_id string, match_rule string"))
    assert {r.match_method for r in links.collect()} == {"name_fuzzy"}
    assert {r.match_score for r in links.collect()} == {rules.scores["trade_name"], rules.scores["owner_name"]}


def test_fuzzy_lookalikes_in_another_county_or_trade_are_dropped(spark, rules):
    name_links = spark.createDataFrame([
        ("same_county", "E1", "name_fuzzy", 0.95),
        ("other_county", "E1", "name_fuzzy", 0.95),
        ("other_county_exact", "E1", "name_exact", 0.99),   # the registered name itself: kept
        ("branch_elsewhere", "E1", "name_fuzzy", 0.95),     # a branch may be elsewhere
        ("other_trade", "E1", "name_fuzzy", 0.95),          # 铭祺超市 is not 铭祺餐饮
        ("no_region", "E1", "name_fuzzy", 0.95),
    ], "mention_id string, entity_id string, match_method string, match_score double")
    mentions = _clued(spark, rules, [
        ("same_county", "铭祺餐饮", "铭祺餐饮", "410105", "4101", None),
        ("other_county", "铭祺餐饮", "铭祺餐饮", "410302", "4103", None),
        ("other_county_exact", "铭祺餐饮", "铭祺餐饮", "410302", "4103", None),
        ("branch_elsewhere", "铭祺餐饮(义马店)", "铭祺餐饮", "411281", "4112", None),
        ("other_trade", "铭祺超市", "铭祺超市", "410105", "4101", None),
        ("no_region", "铭祺餐饮", "铭祺餐饮", None, None, None),
    ]).withColumn("region_code", F.col("county"))
    kept = reject_lookalikes(name_links, mentions, _enterprises(spark))
    assert sorted(r.mention_id for r in kept.collect()) == [
        "branch_elsewhere", "no_region", "other_county_exact", "same_county"]
