"""Record outcomes of standard §2: reason codes, flags, quarantine rows, typed accepted rows."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from pyspark.sql import Row
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from jobs.landing.bronze import bronze_spark_schema
from jobs.silver.quality import feed_quality
from jobs.silver.records import accepted_records, check_records, quarantine_records
from regulake.feeds import load_feed

from .helpers import bronze_rows

ENTERPRISE = {
    "uscc": "91411723MA92CK0T2L", "ent_name": "顺华企业管理咨询有限责任公司", "ent_type": "有限责任公司",
    "legal_rep_name": "胡保国", "legal_rep_id_no": "41272619950606701X", "reg_capital": "20",
    "establish_date": "2016-01-01", "status": "存续", "region_code": "411723", "industry_code": "L72",
    "updated_at": "2016-01-01 15:07:26",
}

# record_no -> (changes, expected reason code, expected flags)
ENTERPRISE_CASES = {
    1: ({}, None, []),
    2: ({"ent_name": "  \u3000"}, "missing_required", []),
    3: ({"uscc": "ABC"}, "invalid_key", []),
    4: ({"uscc": "91411723MA92CK0T2M"}, "invalid_key", []),  # samr_enterprise: check digit is fatal
    5: ({"status": "歇业"}, "invalid_value", []),
    6: ({"reg_capital": "-5"}, None, ["reg_capital:invalid_value"]),
    7: ({"legal_rep_id_no": "412726199506067011"}, None, ["legal_rep_id_no:check_digit"]),
    8: ({"ent_name": None, "status": "歇业"}, "missing_required", []),
    9: ({"status": "在业", "reg_capital": "1,200万", "industry_code": "7212"}, None, []),
    10: ({"establish_date": "2016-02-30", "uscc": None}, "missing_required", []),
    11: ({"region_code": "110105", "legal_rep_id_no": "garbage"}, "invalid_value", ["legal_rep_id_no:invalid_value"]),
}


@pytest.fixture(scope="module")
def enterprise_checked(spark):
    schema = load_feed("samr_enterprise")
    records = [{**ENTERPRISE, **ENTERPRISE_CASES[n][0]} for n in sorted(ENTERPRISE_CASES)]
    bronze = spark.createDataFrame(bronze_rows(schema, records, "20240131", "d1"), bronze_spark_schema(schema))
    return check_records(bronze, schema, feed_quality(schema)).cache()


def test_reason_codes_and_flags(spark, enterprise_checked):
    expected = spark.createDataFrame(
        [(n, reason, flags) for n, (_, reason, flags) in ENTERPRISE_CASES.items()],
        "_record_no int, _reason_code string, _dq_flags array<string>")
    assertDataFrameEqual(enterprise_checked.select("_record_no", "_reason_code", "_dq_flags"), expected)


def test_reason_detail_lists_every_problem(enterprise_checked):
    detail = enterprise_checked.where("_record_no = 8").first()["_reason_detail"]
    assert detail == "missing_required: ent_name; invalid_value: status=歇业"
    assert enterprise_checked.where("_record_no = 4").first()["_reason_detail"] == \
        "invalid_key: uscc=91411723MA92CK0T2M"


def test_quarantine_rows_keep_the_raw_record(enterprise_checked):
    rows = {r.record_no: r for r in quarantine_records(enterprise_checked).collect()}
    assert sorted(rows) == [2, 3, 4, 5, 8, 10, 11]
    assert {r.stage for r in rows.values()} == {"silver"}
    assert rows[5].reason_code == "invalid_value" and rows[5].delivery_id == "d1"
    raw = json.loads(rows[5].raw_record)
    assert raw["status"] == "歇业" and raw["reg_no"] is None and raw["uscc"] == ENTERPRISE["uscc"]


def test_accepted_rows_are_typed_and_cleaned(enterprise_checked):
    schema = load_feed("samr_enterprise")
    accepted = accepted_records(enterprise_checked, schema)
    got = accepted.select("_record_no", "reg_capital", "status", "industry_code", "legal_rep_id_no",
                          "_record_key", F.date_format("updated_at", "yyyy-MM-dd HH:mm:ss").alias("updated_at"))
    expected = [
        Row(_record_no=1, reg_capital=Decimal("20.000000"), status="存续", industry_code="L72",
            legal_rep_id_no="41272619950606701X", _record_key="91411723MA92CK0T2L", updated_at="2016-01-01 15:07:26"),
        Row(_record_no=6, reg_capital=None, status="存续", industry_code="L72",
            legal_rep_id_no="41272619950606701X", _record_key="91411723MA92CK0T2L", updated_at="2016-01-01 15:07:26"),
        Row(_record_no=7, reg_capital=Decimal("20.000000"), status="存续", industry_code="L72",
            legal_rep_id_no="412726199506067011", _record_key="91411723MA92CK0T2L", updated_at="2016-01-01 15:07:26"),
        # 1,200万 in a 万元 column stays 1200; 在业 is 存续; 4-digit class 7212 -> L72
        Row(_record_no=9, reg_capital=Decimal("1200.000000"), status="存续", industry_code="L72",
            legal_rep_id_no="41272619950606701X", _record_key="91411723MA92CK0T2L", updated_at="2016-01-01 15:07:26"),
    ]
    assertDataFrameEqual(got, expected)
    assert dict(accepted.dtypes)["establish_date"] == "date"
    hashes = {r._record_no: r._content_hash for r in accepted.collect()}
    assert hashes[1] != hashes[6]  # content differs (reg_capital null)
    assert hashes[1] != hashes[7]


def test_lenient_check_digit_keeps_the_record(spark):
    """samr_penalty: a USCC failing its check stays, flagged, and is never a quarantine reason."""
    schema = load_feed("samr_penalty")
    record = {"decision_no": " 郑市监罚〔2024〕1号 ", "uscc": "91411723ma92ck0t2m", "ent_name": "x",
              "violation_type": "虚假宣传", "penalty_types": "警告；罚款", "fine_amount": "1.5万",
              "severity": "2", "decision_date": "2024年3月1日", "authority": "郑州市市场监督管理局",
              "updated_at": "2024-03-02T10:00:00+08:00"}
    bronze = spark.createDataFrame(bronze_rows(schema, [record], "20240301", "d"), bronze_spark_schema(schema))
    checked = check_records(bronze, schema, feed_quality(schema))
    row = accepted_records(checked, schema).first()
    assert row["_dq_flags"] == ["uscc:check_digit"]
    assert row["uscc"] == "91411723MA92CK0T2M" and row["_record_key"] == "郑市监罚〔2024〕1号"
    assert row["penalty_types"] == ["警告", "罚款"] and row["fine_amount"] == Decimal("15000.000000")
    assert row["severity"] == "较重"


def test_composite_record_key_is_normalised(spark):
    schema = load_feed("tax_credit")
    record = {"纳税人识别号": " 410105-ma92ck0t2 ", "纳税人名称": "x", "评价年度": "2023",
              "信用级别": "A", "更新日期": "2024/04/01"}
    bronze = spark.createDataFrame(bronze_rows(schema, [record], "20240401", "d"), bronze_spark_schema(schema))
    row = accepted_records(check_records(bronze, schema, feed_quality(schema)), schema).first()
    assert row["_record_key"] == "410105MA92CK0T2|2023"


# Standard v1.1 §2 "Identifiers in business keys": one case per (feed, key value) -> reason code.
_ANNUAL = {"report_year": "2023", "submitted_at": "2024-05-01 10:00:00", "updated_at": "2024-05-01 10:00:00"}
_TAX = {"纳税人名称": "x", "评价年度": "2023", "信用级别": "A", "更新日期": "2024/04/01"}
_HRSS = {"unit_name": "x", "period": "2024-03", "reported_at": "2024-04-01 09:00:00"}
IDENTIFIER_KEY_CASES = [
    ("samr_annual_report", {"uscc": "91411723MA92CK0T2L", **_ANNUAL}, None),
    ("samr_annual_report", {"uscc": "91411723ma92ck0t2m", **_ANNUAL}, "invalid_key"),    # check char fails
    ("tax_credit", {"纳税人识别号": "91411723MA92CK0T2L", **_TAX}, None),
    ("tax_credit", {"纳税人识别号": "91411723MA92CK0T2M", **_TAX}, "invalid_key"),       # 18: USCC check
    ("tax_credit", {"纳税人识别号": "410105MA92CK0T3", **_TAX}, None),    # old tax id: accepted as it is
    ("tax_credit", {"纳税人识别号": "4101051234567890", **_TAX}, None),   # 16 characters: old tax id too
    ("tax_credit", {"纳税人识别号": "4101051234", **_TAX}, "invalid_key"),  # no identifier's shape
    ("hrss_social_insurance", {"unit_code": "MA92CK0T-2", **_HRSS}, None),                # organisation code
    ("hrss_social_insurance", {"unit_code": "MA92CK0T-3", **_HRSS}, "invalid_key"),       # 9: GB 11714 check
    ("hrss_social_insurance", {"unit_code": "９１411723MA92CK0T2Ｌ", **_HRSS}, None),
    ("hrss_social_insurance", {"unit_code": "91411723MA92CK0T2M", **_HRSS}, "invalid_key"),
]


@pytest.mark.parametrize(("feed_id", "record", "reason"), IDENTIFIER_KEY_CASES,
                         ids=[f"{f}-{i}" for i, (f, _, _) in enumerate(IDENTIFIER_KEY_CASES)])
def test_identifier_in_a_business_key_must_pass_its_check(spark, feed_id, record, reason):
    schema = load_feed(feed_id)
    bronze = spark.createDataFrame(bronze_rows(schema, [record], "20240401", "d"), bronze_spark_schema(schema))
    checked = check_records(bronze, schema, feed_quality(schema))
    row = checked.select("_reason_code", "_dq_flags").first()
    assert (row["_reason_code"], row["_dq_flags"]) == (reason, [])
    assert accepted_records(checked, schema).count() == (0 if reason else 1)


def test_every_identifier_key_is_strict():
    from jobs.silver.quality import identifier_key_aliases
    from regulake.feeds import feed_ids

    strict = {f: sorted(identifier_key_aliases(load_feed(f))) for f in feed_ids()}
    assert {f: a for f, a in strict.items() if a} == {
        "samr_enterprise": ["uscc"], "samr_annual_report": ["uscc"], "tax_credit": ["taxpayer_id"],
        "hrss_social_insurance": ["unit_code"], "personnel": ["cert_no"]}
    for feed_id, aliases in strict.items():
        assert set(aliases) <= feed_quality(load_feed(feed_id)).strict_check_digit
