"""jobs.linking.scoring: the Splink model from conf, the decision rule, and scoring end to end."""

from __future__ import annotations

import dataclasses

import pytest
from pyspark.testing import assertDataFrameEqual

from jobs.linking import features, scoring
from jobs.linking.config import load_linking_config

PAIRS = ("mention_id string, entity_id string, match_weight double, match_probability double, "
         "name_text_l string, name_text_r string, reg_no_l string, reg_no_r string")


@pytest.fixture(scope="module")
def config():
    return dataclasses.replace(load_linking_config(), min_probability=0.8, min_margin_bits=1.0)


def test_settings_carry_every_blocking_key_and_level(config):
    settings = scoring.splink_settings(config)
    assert [r["blocking_rule"] for r in settings["blocking_rules_to_generate_predictions"]] == \
        [f"l.{k} = r.{k}" for k in config.blocking_keys]
    name = settings["comparisons"][0]
    assert name["output_column_name"] == "name"
    assert name["comparison_levels"][0] == {"sql_condition": "core_l IS NULL OR core_r IS NULL",
                                            "label_for_charts": "null", "is_null_level": True}
    assert all({"m_probability", "u_probability"} <= set(level) for level in name["comparison_levels"][1:])


def test_decide_takes_a_clear_best_candidate_only(spark, config):
    pairs = spark.createDataFrame(
        [
            ("clear", "E1", 12.0, 0.999, "郑州禾卓食品有限公司", "郑州禾卓食品有限公司", None, None),
            ("clear", "E2", 2.0, 0.7, "郑州禾卓食品有限公司", "开封禾卓食品有限公司", None, None),
            ("fuzzy", "E3", 9.0, 0.99, "鑫源商贸", "郑州鑫源商贸有限公司", None, None),
            ("twins", "E4", 6.0, 0.95, "程新丰清洁服务有限公司", "郑州程新丰清洁服务有限公司", None, None),
            ("twins", "E5", 5.5, 0.94, "程新丰清洁服务有限公司", "洛阳程新丰清洁服务有限公司", None, None),
            ("weak", "E6", 0.5, 0.6, "禾卓", "郑州禾卓物流有限公司", None, None),
            ("other-reg-no", "E7", 15.0, 0.9999, "郑州禾卓食品有限公司", "郑州禾卓食品有限公司", "410105000000014",
             "410105000000022"),
        ],
        PAIRS,
    )
    assertDataFrameEqual(
        scoring.decide(pairs, config),
        spark.createDataFrame(
            [("clear", "E1", "name_exact", 0.999), ("fuzzy", "E3", "name_fuzzy", 0.99)],
            "mention_id string, entity_id string, match_method string, match_score double",
        ),
    )


ENTERPRISES = [
    ("E-hj-zz", "汇久文体用品有限公司", "410103", "河南省郑州市二七区中州大道151号", None),
    ("E-hj-kf", "开封汇久文体用品有限公司", "410212", "河南省开封市祥符区北大街260号", None),
    ("E-cx-zz", "郑州程新丰清洁服务有限公司", "410122", "河南省郑州市中牟县航海路392号", None),
    ("E-cx-ly", "洛阳市程新丰清洁服务有限公司", "410305", "河南省洛阳市涧西区西苑路82号", None),
    ("E-ct-xy", "信阳宸泰博物业管理有限公司", "411502", "河南省信阳市浉河区红旗路141号", None),
    ("E-ds-zz", "郑州鑫源数据科技有限公司", "410105", "河南省郑州市金水区文化路12号", None),
]
MENTIONS = [
    # (mention, name, address, region_code) -> expected entity or None
    ("twin-with-region", "汇久文体用品有限公司", None, "410212", "E-hj-kf"),
    ("homophone-with-city", "郑州程新峰清洁服务有限公司", None, None, "E-cx-zz"),
    ("twin-without-region", "程新丰清洁服务有限公司", None, None, None),
    ("abbreviation-with-address", "宸泰博物业管理", "浉河区红旗露141号", "411502", "E-ct-xy"),
    ("decoy-same-address", "郑州鑫源信据科技有限公司", "金水区文化路12号", "410105", None),
    ("unregistered", "金水区王嫂烩面馆", "金水区文化路12号", "410105", None),
]


def test_names_link_where_the_evidence_is_clear_and_only_there(spark, config):
    enterprises = spark.createDataFrame(
        ENTERPRISES, "uscc string, ent_name string, region_code string, address string, reg_no string")
    mentions = spark.createDataFrame(
        [(m, n, a, r, None, None, None, []) for m, n, a, r, _ in MENTIONS],
        "mention_id string, name string, address string, region_code string, court_region string, "
        "id_region string, id_value string, id_kinds array<string>",
    )
    mention_frame = features.with_blocking_keys(features.mention_features(mentions), config.blocking_keys)
    enterprise_frame = features.cap_blocks(
        features.with_blocking_keys(features.enterprise_features(enterprises), config.blocking_keys),
        config.blocking_keys, config.max_block)
    with scoring.splink_session(spark) as db_api:
        pairs = scoring.score_candidates(db_api, mention_frame, enterprise_frame, config)
        got = {r["mention_id"]: r["entity_id"] for r in scoring.decide(pairs, config).collect()}
    expected = {m: e for m, _, _, _, e in MENTIONS if e}
    assert got == expected
    # The session released Splink's tables.
    assert not [t.name for t in spark.catalog.listTables() if t.name.startswith("__splink__")]
