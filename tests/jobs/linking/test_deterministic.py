"""jobs.linking.deterministic: identifiers that name exactly one enterprise, and persons by RIC."""

from __future__ import annotations

import pytest
from pyspark.testing import assertDataFrameEqual

from jobs.linking import deterministic
from jobs.linking.config import load_linking_config
from jobs.linking.job import latest_enterprises
from jobs.linking.mentions import extract_mentions

from .helpers import ENTERPRISE_SCHEMA, broken_check, enterprise_row, org_code, reg_no, ric, tax_id, uscc

A = uscc("410105", 1)  # 金水区, old registration number in the crosswalk, represented by person 1
B = uscc("410202", 2)  # 开封 龙亭区, also represented by person 1
C = uscc("410122", 3)  # 中牟县, represented by person 2
UNREGISTERED = uscc("410105", 99)


@pytest.fixture(scope="module")
def config():
    return load_linking_config()


@pytest.fixture(scope="module")
def enterprises(spark):
    rows = [
        enterprise_row(A, "郑州禾卓食品有限公司", "410105", reg=reg_no("410105", 11), rep_ric=ric(1)),
        enterprise_row(B, "开封汇久文体用品有限公司", "410202", rep_ric=ric(1)),
        enterprise_row(C, "郑州程新丰清洁服务有限公司", "410122", rep_ric=ric(2)),
    ]
    return latest_enterprises(spark.createDataFrame(rows, ENTERPRISE_SCHEMA))


def _tax(spark, config, rows):
    df = spark.createDataFrame(rows, "taxpayer_id string, taxpayer_name string, _record_key string")
    return extract_mentions(df, config.feeds["tax_credit"])


def _court(spark, config, rows):
    df = spark.createDataFrame(rows, "case_code string, party_name string, party_type string, party_id_no string, "
                                     "_record_key string")
    return extract_mentions(df, config.feeds["court_dishonest"])


def _link(mentions, enterprises, config):
    classified = deterministic.classify_identifiers(mentions)
    index = deterministic.identifier_index(enterprises)
    links = deterministic.link_by_identifier(classified, index, enterprises, config)
    return classified, links


def test_identifier_kinds_resolve_to_their_enterprise(spark, config, enterprises):
    mentions = _tax(spark, config, [
        (A.lower(), "郑州禾卓食品有限公司", "t-uscc"),
        (tax_id("410122", 3), "郑州程新丰清洁服务有限公司", "t-tax"),  # region + org code of C
        (reg_no("410105", 11), "郑州禾卓食品有限公司", "t-reg"),  # A's old number, via the crosswalk
    ])
    _, links = _link(mentions, enterprises, config)
    assertDataFrameEqual(
        links,
        spark.createDataFrame(
            [("tax_credit#t-uscc", A, "uscc", 1.0), ("tax_credit#t-tax", C, "tax_id", 1.0),
             ("tax_credit#t-reg", A, "reg_no", 1.0)],
            "mention_id string, entity_id string, match_method string, match_score double",
        ),
    )


def test_org_code_resolves_through_the_uscc_it_is_embedded_in(spark, config, enterprises):
    df = spark.createDataFrame([(org_code(2)[:8] + "-" + org_code(2)[8], "开封汇久", "h1")],
                               "unit_code string, unit_name string, _record_key string")
    _, links = _link(extract_mentions(df, config.feeds["hrss_social_insurance"]), enterprises, config)
    assert [(r["entity_id"], r["match_method"]) for r in links.collect()] == [(B, "org_code")]


def test_failed_check_character_is_never_used_and_goes_to_names(spark, config, enterprises):
    mentions = _tax(spark, config, [(broken_check(A), "郑州禾卓食品有限公司", "t-broken"),
                                    (UNREGISTERED, "郑州禾卓食品有限公司", "t-unknown"),
                                    (reg_no("410105", 12), "郑州禾卓食品有限公司", "t-reg-unknown")])
    classified, links = _link(mentions, enterprises, config)
    assert links.count() == 0  # not even through the organisation code a broken USCC embeds
    routed = {r["mention_id"]: (r["to_names"], r["id_region"])
              for r in deterministic.identifier_outcome(classified, links, config).collect()}
    assert routed == {
        "tax_credit#t-broken": (True, None),
        "tax_credit#t-unknown": (False, None),  # a valid USCC of an unregistered business: no name guess
        "tax_credit#t-reg-unknown": (True, "410105"),  # crosswalk incomplete: names, with its region
    }


def test_a_flagged_identifier_is_not_used(spark, config, enterprises):
    df = spark.createDataFrame([(A, "x", ["uscc:check_digit"], "p1")],
                               "uscc string, ent_name string, _dq_flags array<string>, _record_key string")
    _, links = _link(extract_mentions(df, config.feeds["samr_penalty"]), enterprises, config)
    assert links.count() == 0


def test_natural_person_links_to_the_enterprise_they_represent(spark, config, enterprises):
    mentions = _court(spark, config, [
        ("(2024)豫0122执1号", "李四", "自然人", ric(2), "only-c"),
        ("(2024)豫0105执2号", "张三", "自然人", ric(1), "several-court-in-a"),
        ("(2024)豫1403执3号", "张三", "自然人", ric(1), "several-court-elsewhere"),
        ("(2024)豫0105执4号", "王五", "自然人", ric(3), "represents-none"),
        ("(2024)豫0105执5号", "郑州禾卓食品有限公司", "法人", A, "company"),
    ])
    _, links = _link(mentions, enterprises, config)
    got = {r["mention_id"].split("#")[1]: (r["entity_id"], r["match_method"]) for r in links.collect()}
    assert got == {"only-c": (C, "ric"), "several-court-in-a": (A, "ric"), "company": (A, "uscc")}


def test_identifier_index_holds_every_key_kind(spark, enterprises):
    index = deterministic.identifier_index(enterprises)
    kinds = {(r["kind"], r["entity_id"]) for r in index.collect()}
    assert ("reg_no", A) in kinds and ("ric", B) in kinds and ("org_code", C) in kinds
    assert index.where(f"kind = 'org_code' AND key = '{org_code(3)}'").count() == 1
