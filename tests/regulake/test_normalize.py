"""Every normalisation rule of standard §3, in its pure-Python form and its Spark form.

The rule tables below pin the Python form; `test_spark_form_agrees` runs every
input of those tables (plus random identifiers) through the Spark form and
asserts value-for-value agreement, so silver, GX and linking share one rule.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from pyspark.sql import functions as F

from regulake import identifiers as ids
from regulake.feeds import Column, FeedSchema
from regulake.normalize import (
    CHECK_DIGIT,
    INVALID,
    OK,
    canonical_industry,
    clean_text,
    normalize_frame,
    normalize_value,
    record_key,
    status_column,
)

SHANGHAI = timezone(timedelta(hours=8))
BAD_BIRTH_RIC = "41272619951306701" + ids.ric_check_char("41272619951306701")


def col(kind: str, **extra) -> Column:
    return Column(name=kind, alias=kind, required=False, type=kind, **extra)


def make_uscc(rng: random.Random, valid: bool = True) -> str:
    org = "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(8))
    org += ids.org_code_check_char(org) if all(c in ids._ORG_ALPHABET for c in org) else "0"
    body = "91410105" + org
    check = ids.uscc_check_char(body)
    if not valid:
        check = next(c for c in "0123456789ABC" if c != check)
    return body + check


def make_org(rng: random.Random, valid: bool = True) -> str:
    body = "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(8))
    check = ids.org_code_check_char(body)
    if not valid:
        check = next(c for c in "0123456789X" if c != check)
    return body + check


def make_reg_no(rng: random.Random, valid: bool = True) -> str:
    body = "410105" + "".join(rng.choice("0123456789") for _ in range(8))
    check = ids.reg_no_check_digit(body)
    return body + (check if valid else str((int(check) + 1) % 10))


def make_ric(rng: random.Random, valid: bool = True) -> str:
    born = date(1950, 1, 1) + timedelta(days=rng.randrange(20000))
    body = f"410105{born:%Y%m%d}{rng.randrange(1000):03d}"
    check = ids.ric_check_char(body)
    return body + (check if valid else next(c for c in "0123456789X" if c != check))


RULES: list[tuple[Column, object, object, str | None]] = [
    # text: trim, full-width -> half-width, collapse inner spaces, keep line breaks
    (col("text"), "  郑州市（金水区）  Ａ１  ", "郑州市(金水区) A1", OK),
    (col("text"), "a \u3000 b\u00a0\tc", "a b c", OK),
    (col("text"), "第一行\n第二行", "第一行\n第二行", OK),
    (col("text"), " \u3000 ", None, None),
    (col("text"), None, None, None),
    # identifiers: lowercase, full-width, padded forms; check digits
    (col("uscc"), " 91411723ma92ck0t2l ", "91411723MA92CK0T2L", OK),
    (col("uscc"), "９１４１１７２３ＭＡ９２ＣＫ０Ｔ２Ｌ", "91411723MA92CK0T2L", OK),
    (col("uscc"), "91411723MA92CK0T2M", "91411723MA92CK0T2M", CHECK_DIGIT),
    (col("uscc"), "91411723MA92CK0T2", "91411723MA92CK0T2", INVALID),
    (col("uscc"), "9141172IMA92CK0T2L", "9141172IMA92CK0T2L", INVALID),
    (col("org_code"), "MA92CK0T-2", "MA92CK0T2", OK),
    (col("org_code"), "MA92CK0T3", "MA92CK0T3", CHECK_DIGIT),
    (col("org_code"), "MA92CK0", "MA92CK0", INVALID),
    (col("reg_no"), "410105159466164", "410105159466164", OK),
    (col("reg_no"), "410105159466165", "410105159466165", CHECK_DIGIT),
    (col("reg_no"), "41010515946616", "41010515946616", INVALID),
    (col("ric"), "41272619950606701x", "41272619950606701X", OK),
    (col("ric"), "412726199506067011", "412726199506067011", CHECK_DIGIT),
    (col("ric"), BAD_BIRTH_RIC, BAD_BIRTH_RIC, INVALID),  # right check char, month 13
    (col("ric"), "4127261995060670", "4127261995060670", INVALID),
    (col("cert_no"), "41010501000123", "41010501000123", OK),
    (col("cert_no"), "41010512000123", "41010512000123", INVALID),  # department no. 12 does not exist
    (col("party_id"), "41272619950606701X", "41272619950606701X", OK),
    (col("party_id"), "91411723MA92CK0T2L", "91411723MA92CK0T2L", OK),
    (col("party_id"), "MA92CK0T2", "MA92CK0T2", OK),
    (col("party_id"), "91411723MA92CK0T2M", "91411723MA92CK0T2M", CHECK_DIGIT),
    (col("party_id"), "ABC", "ABC", INVALID),
    (col("unit_code"), "MA92CK0T2", "MA92CK0T2", OK),
    (col("unit_code"), "41272619950606701X", "41272619950606701X", CHECK_DIGIT),  # a RIC is no unit code
    (col("taxpayer_id"), "410105MA92CK0T2", "410105MA92CK0T2", OK),  # old tax id stays an old tax id
    # standard v1.1 §2: an old tax id (15-20 characters, not 18) is accepted as it is, no check character
    (col("taxpayer_id"), "410105-MA92CK0T3", "410105MA92CK0T3", OK),
    (col("taxpayer_id"), "4101051234", "4101051234", INVALID),            # no identifier's shape
    (col("taxpayer_id"), "91411723MA92CK0T2M", "91411723MA92CK0T2M", CHECK_DIGIT),  # 18: the USCC check
    (col("unit_code"), "MA92CK0T-3", "MA92CK0T3", CHECK_DIGIT),             # 9: the GB 11714 check
    (col("taxpayer_id"), "91411723MA92CK0T2L", "91411723MA92CK0T2L", OK),
    # region / department / industry codes
    (col("region_code"), " 410105 ", "410105", OK),
    (col("region_code"), "419001", "419001", OK),
    (col("region_code"), "110105", "110105", INVALID),  # not a Henan code
    (col("dept_code"), "scjg", "SCJG", OK),
    (col("dept_code"), "XX", "XX", INVALID),
    (col("industry_code"), "C13", "C13", OK),
    (col("industry_code"), "13", "C13", OK),
    (col("industry_code"), "c1311", "C13", OK),
    (col("industry_code"), "1311", "C13", OK),
    (col("industry_code"), "I65", "I65", OK),
    (col("industry_code"), "05", "A05", OK),
    (col("industry_code"), "A13", "A13", INVALID),  # division 13 belongs to section C
    (col("industry_code"), "98", "98", INVALID),
    (col("industry_code"), "C131", "C131", INVALID),
    # dates
    (col("date"), "2024-03-01", date(2024, 3, 1), OK),
    (col("date"), "2024/3/1", date(2024, 3, 1), OK),
    (col("date"), "2024.03.01", date(2024, 3, 1), OK),
    (col("date"), "20240301", date(2024, 3, 1), OK),
    (col("date"), "2024年3月1日", date(2024, 3, 1), OK),
    (col("date"), "２０２４年０３月０１日", date(2024, 3, 1), OK),
    (col("date"), "2024-02-30", None, INVALID),
    (col("date"), "2024-13-01", None, INVALID),
    (col("date"), "2024-03/01", None, INVALID),
    (col("date"), "01/03/2024", None, INVALID),
    (col("date"), "not a date", None, INVALID),
    # timestamps: without offset -> Asia/Shanghai
    (col("timestamp"), "2025-03-01 09:30:00", datetime(2025, 3, 1, 9, 30, tzinfo=SHANGHAI), OK),
    (col("timestamp"), "2025/03/01 09:30", datetime(2025, 3, 1, 9, 30, tzinfo=SHANGHAI), OK),
    (col("timestamp"), "2025-03-01T09:30:00+08:00", datetime(2025, 3, 1, 9, 30, tzinfo=SHANGHAI), OK),
    (col("timestamp"), "2025-03-01T01:30:00Z", datetime(2025, 3, 1, 9, 30, tzinfo=SHANGHAI), OK),
    (col("timestamp"), "2025-03-01T09:30:00+0000", datetime(2025, 3, 1, 17, 30, tzinfo=SHANGHAI), OK),
    (col("timestamp"), "2025-03-01T09:30:00.250+08:00",
     datetime(2025, 3, 1, 9, 30, 0, 250000, tzinfo=SHANGHAI), OK),
    (col("timestamp"), "2025-03-01", datetime(2025, 3, 1, tzinfo=SHANGHAI), OK),
    (col("timestamp"), "2025-03-01 24:00:00", None, INVALID),
    (col("timestamp"), "2025-02-29 10:00:00", None, INVALID),
    (col("timestamp"), "yesterday", None, INVALID),
    # years, months, ints, numbers
    (col("year"), "2023", 2023, OK),
    (col("year"), "2023年", 2023, OK),
    (col("year"), "23", None, INVALID),
    (col("year"), "1800", None, INVALID),
    (col("month"), "2023-07", "2023-07", OK),
    (col("month"), "202307", "2023-07", OK),
    (col("month"), "2023/7", "2023-07", OK),
    (col("month"), "2023-13", None, INVALID),
    (col("month"), "2023-7-1", None, INVALID),
    (col("int"), "42", 42, OK),
    (col("int"), "+42", 42, OK),
    (col("int"), "42.0", 42, OK),
    (col("int"), "42.5", None, INVALID),
    (col("int"), "四十二", None, INVALID),
    (col("int", min=0.0), "-1", -1, INVALID),  # heat >= 0
    (col("int"), "-3", -3, INVALID),  # every int of the standard is a count
    (col("number", min=-1.0, max=1.0), "-0.4", -0.4, OK),  # polarity in [-1, 1]
    (col("number", min=-1.0, max=1.0), "1.5", 1.5, INVALID),
    (col("number"), "1e3", 1000.0, OK),
    (col("number"), "1,5", None, INVALID),
    # amounts: separators, units; negative is invalid
    (col("amount", unit="元"), "12,216.88", Decimal("12216.880000"), OK),
    (col("amount", unit="元"), "5万", Decimal("50000.000000"), OK),
    (col("amount", unit="元"), "1.5万元", Decimal("15000.000000"), OK),
    (col("amount", unit="元"), "300元", Decimal("300.000000"), OK),
    (col("amount", unit="元"), "-5", Decimal("-5.000000"), INVALID),
    (col("amount", unit="元"), "五千", None, INVALID),
    (col("amount", unit="万元"), "500", Decimal("500.000000"), OK),
    (col("amount", unit="万元"), "500万元", Decimal("500.000000"), OK),  # no x10000 in a 万元 column
    (col("amount", unit="万元"), "500万", Decimal("500.000000"), OK),
    (col("amount", unit="万元"), "12345元", Decimal("1.234500"), OK),
    (col("amount", unit="万元"), "0.0000005元", Decimal("0.000000"), OK),
    (col("amount", unit="万元"), "1.5e+06万", Decimal("1500000.000000"), OK),
    # booleans
    (col("boolean"), "是", True, OK),
    (col("boolean"), "否", False, OK),
    (col("boolean"), "y", True, OK),
    (col("boolean"), "N", False, OK),
    (col("boolean"), "1", True, OK),
    (col("boolean"), "0", False, OK),
    (col("boolean"), "TRUE", True, OK),
    (col("boolean"), "false", False, OK),
    (col("boolean"), "maybe", None, INVALID),
    # enums: code or label -> the label
    (col("enum", values={"1": "一般", "2": "较重", "3": "严重"}), "2", "较重", OK),
    (col("enum", values={"1": "一般", "2": "较重", "3": "严重"}), "严重", "严重", OK),
    (col("enum", values={"1": "一般", "2": "较重", "3": "严重"}), "4", "4", INVALID),
    (col("enum", values={"存续": "存续", "在业": "存续", "注销": "注销"}), "在业", "存续", OK),
    (col("enum", values={"APP": "APP", "电话": "电话"}), "app", "APP", OK),
    (col("enum", values={"dispatch": "分发", "close": "办结"}), "Dispatch", "分发", OK),
    # lists: ; ； 、 or a JSON array
    (col("list", values=("警告", "罚款")), "警告;罚款", ["警告", "罚款"], OK),
    (col("list", values=("警告", "罚款")), "警告；罚款", ["警告", "罚款"], OK),
    (col("list", values=("警告", "罚款")), "警告、 罚款 ", ["警告", "罚款"], OK),
    (col("list", values=("警告", "罚款")), '["警告", "罚款"]', ["警告", "罚款"], OK),
    (col("list", values=("警告", "罚款")), "警告;拘留", ["警告", "拘留"], INVALID),
    (col("list", values=("警告", "罚款")), " ; ", None, None),
    (col("list"), '["小王超市", "郑州创辰房地产经纪有限责任公司"]', ["小王超市", "郑州创辰房地产经纪有限责任公司"], OK),
    (col("list", item_type="cert_no"), "41010501000123;41010501000124", ["41010501000123", "41010501000124"], OK),
    (col("list", item_type="cert_no"), "41010501000123、4101050100012", ["41010501000123", "4101050100012"],
     INVALID),
]


@pytest.mark.parametrize(("column", "raw", "value", "status"), RULES,
                         ids=[f"{c.type}:{r!r}" for c, r, _, _ in RULES])
def test_python_rule(column, raw, value, status):
    got = normalize_value(column, raw)
    assert (got.value, got.status) == (value, status)


def test_final_value_nulls_invalid_keeps_check_digit():
    assert normalize_value(col("uscc"), "91411723MA92CK0T2M").final == "91411723MA92CK0T2M"
    assert normalize_value(col("date"), "2024-02-30").final is None
    assert normalize_value(col("amount", unit="元"), "-5").final is None


def test_industry_sections_cover_all_divisions():
    assert canonical_industry("01") == "A01"
    assert canonical_industry("97") == "T97"
    assert canonical_industry("44") == "D44"
    assert canonical_industry("00") is None


def test_clean_text_is_idempotent():
    for raw in ("  Ａ　 b  ", "x\n y", "（测试）"):
        once = clean_text(raw)
        assert clean_text(once) == once


def test_record_key_normalises_each_part():
    key = [Column("纳税人识别号", "taxpayer_id", True, "taxpayer_id"), Column("评价年度", "eval_year", True, "year")]
    assert record_key(key, [" 410105-ma92ck0t2 ", "2023年"]) == "410105MA92CK0T2|2023"
    assert record_key(key, ["410105MA92CK0T2", ""]) is None


def _random_cases() -> list[tuple[Column, str]]:
    rng = random.Random(20240301)
    cases: list[tuple[Column, str]] = []
    for _ in range(40):
        valid = rng.random() < 0.6
        cases += [(col("uscc"), make_uscc(rng, valid)), (col("org_code"), make_org(rng, valid)),
                  (col("reg_no"), make_reg_no(rng, valid)), (col("ric"), make_ric(rng, valid)),
                  (col("taxpayer_id"), rng.choice([make_uscc, lambda r, v: "410105" + make_org(r, v)])(rng, valid)),
                  (col("party_id"), rng.choice([make_uscc, make_org, make_ric])(rng, valid))]
    amounts = ["0.00005", "0.000049999", "123456789.123456789", "1,234,567.891234元", "0.5万", "7.77777万元"]
    for raw in amounts:
        cases += [(col("amount", unit="元"), raw), (col("amount", unit="万元"), raw)]
    return cases


def _comparable(column: Column, value):
    if value is None:
        return None
    if column.type == "timestamp":
        return (value - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    return value


def _signature(column: Column) -> tuple:
    return (column.type, column.unit, str(column.values), column.item_type, column.min, column.max)


def test_spark_form_agrees(spark):
    """normalize_frame (the form silver runs) gives what normalize_value gives, for every case."""
    cases = [(c, r) for c, r, _, _ in RULES] + _random_cases()
    distinct = list({_signature(c): c for c, _ in cases}.values())
    # One synthetic feed with a column per distinct rule; every row carries its raw text in all columns.
    columns = [replace(c, name=f"c{i}", alias=f"c{i}") for i, c in enumerate(distinct)]
    index = {_signature(c): i for i, c in enumerate(distinct)}
    schema = FeedSchema(feed_id="norm_test", title="", department="", format="csv", encoding="utf-8",
                        modes=("incremental",), key=("c0",), version_column="c0", columns=tuple(columns))
    bronze = spark.createDataFrame([(n, *([raw] * len(columns))) for n, (_, raw) in enumerate(cases)],
                                   ", ".join(["case_no int"] + [f"c{i} string" for i in range(len(columns))]))
    frame = normalize_frame(bronze, schema, keep=["case_no"])
    frame = frame.select("case_no", *[
        (F.unix_micros(F.col(c.alias)) if c.type == "timestamp" else F.col(c.alias)).alias(c.alias)
        for c in columns
    ], *[status_column(c.alias) for c in columns])
    got = {row.case_no: row for row in frame.collect()}
    mismatches = []
    for n, (column, raw) in enumerate(cases):
        alias = f"c{index[_signature(column)]}"
        expected = normalize_value(column, raw)
        spark_value, spark_status = got[n][alias], got[n][status_column(alias)]
        if (_comparable(column, expected.value), expected.status) != (spark_value, spark_status):
            mismatches.append((column.type, raw, expected, spark_value, spark_status))
    assert not mismatches, mismatches
