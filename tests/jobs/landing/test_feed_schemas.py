"""Every feed schema loads, and agrees with standard §4 (columns, R/O, key, format, encoding, modes)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from regulake.config import PROJECT_ROOT
from regulake.feeds import (
    FeedSchemaError,
    load_all_feeds,
    load_feed,
    match_header,
    normalize_header,
    parse_feed,
)

STANDARD = PROJECT_ROOT.parent / "shared" / "standard" / "DATA_EXCHANGE_STANDARD.md"
ALL_FEEDS = {
    "samr_enterprise", "samr_annual_report", "samr_abnormal_list", "samr_penalty", "samr_inspection",
    "tax_credit", "hrss_social_insurance", "env_penalty", "court_dishonest", "hotline_12345",
    "sentiment", "matter_catalog", "personnel", "coop_task_event", "license",
}


def _standard_feeds() -> dict[str, dict]:
    """Parse standard §4 into {feed_id: {heading, columns: {name: required}, key}}."""
    if not STANDARD.is_file():
        pytest.skip(f"standard not found at {STANDARD}")
    text = STANDARD.read_text(encoding="utf-8")
    section = text.split("## 4. Feeds", 1)[1].split("## 5.", 1)[0]
    feeds: dict[str, dict] = {}
    for block in section.split("\n### ")[1:]:
        heading, _, body = block.partition("\n")
        feed_id = heading.split()[0]
        columns: dict[str, bool] = {}
        for row in re.findall(r"^\| (\S+) \| ([RO]) \|", body, flags=re.M):  # the samr_enterprise table
            columns[row[0]] = row[1] == "R"
        flat = " ".join(body.split())
        for piece in flat.split(" · "):
            match = re.match(r"^(\S+) ([RO])(?:\s|$)", piece.strip())
            if match:
                columns[match.group(1)] = match.group(2) == "R"
        key_text = heading.rsplit("key", 1)[1]
        key = [k.strip() for k in re.search(r"`([^`]+)`", key_text).group(1).split(",")]
        feeds[feed_id] = {"heading": heading, "columns": columns, "key": key}
    return feeds


def test_all_fifteen_feeds_load():
    feeds = load_all_feeds()
    assert set(feeds) == ALL_FEEDS
    for feed_id, schema in feeds.items():
        assert schema.feed_id == feed_id
        assert load_feed(feed_id) is schema  # cached: one object per feed


@pytest.mark.parametrize("feed_id", sorted(ALL_FEEDS))
def test_schema_matches_standard(feed_id):
    expected = _standard_feeds()[feed_id]
    schema = load_feed(feed_id)
    assert {c.name: c.required for c in schema.columns} == expected["columns"]
    assert list(schema.column_names) == list(expected["columns"])  # standard's order
    assert list(schema.key) == expected["key"]
    heading = expected["heading"]
    assert schema.format == ("xlsx" if "XLSX" in heading else "jsonl" if "JSONL" in heading else "csv")
    expected_encoding = "gb18030" if "GB18030" in heading else "utf-8-sig" if "BOM" in heading else "utf-8"
    assert schema.encoding == expected_encoding
    if "first delivery full, then incremental" in heading:
        assert schema.modes == ("full", "incremental")
    elif "· full ·" in heading:
        assert schema.modes == ("full",)
    else:
        assert schema.modes == ("incremental",)
    assert schema.version_column in schema.column_names


def test_aliases_of_chinese_headers_and_event_time():
    tax = load_feed("tax_credit")
    assert [c.alias for c in tax.columns] == [
        "taxpayer_id", "taxpayer_name", "eval_year", "credit_grade", "arrears_amount", "updated_date"]
    assert tax.version_column == "更新日期"
    personnel = load_feed("personnel")
    assert [c.alias for c in personnel.columns] == [
        "name", "id_no", "cert_no", "dept_code", "dept_name", "region_code", "fields", "status", "updated_at"]
    assert load_feed("coop_task_event").column("at").alias == "event_at"
    assert load_feed("hrss_social_insurance").version_column == "reported_at"


def test_types_units_and_values_follow_the_standard():
    enterprise = load_feed("samr_enterprise")
    assert enterprise.column("reg_capital").unit == "万元"
    assert enterprise.column("status").values["在业"] == "存续"
    assert load_feed("samr_penalty").column("fine_amount").unit == "元"
    assert load_feed("samr_penalty").column("severity").values == {"1": "一般", "2": "较重", "3": "严重"}
    assert "行政拘留" in load_feed("samr_penalty").column("penalty_types").values
    assert load_feed("samr_inspection").column("inspector_cert_nos").item_type == "cert_no"
    assert load_feed("samr_abnormal_list").column("reason").values["04"] == "通过登记的住所或经营场所无法联系"
    assert load_feed("coop_task_event").column("event_type").values["close"] == "办结"
    assert load_feed("sentiment").column("polarity").min == -1.0
    assert load_feed("sentiment").column("heat").min == 0.0
    assert load_feed("tax_credit").column("纳税人识别号").type == "taxpayer_id"
    assert load_feed("court_dishonest").column("party_id_no").type == "party_id"
    for schema in load_all_feeds().values():
        for column in schema.columns:
            assert (column.unit is not None) == (column.type == "amount")
            if column.type == "enum":
                assert column.values


def test_header_matching_trims_ignores_case_and_order():
    schema = load_feed("license")
    header = [" UPDATED_AT ", "License_No", "license_type", " Holder_USCC", "ISSUING_DEPT", "issue_date",
              "status", "remark"]
    match = match_header(schema, header)
    assert match.positions["updated_at"] == 0 and match.positions["license_no"] == 1
    assert match.extras == [(7, "remark")]
    assert match.missing_required == []
    assert match.missing_optional == ["holder_name", "valid_until"]
    assert match.ok
    missing = match_header(schema, header[1:])
    assert missing.missing_required == ["updated_at"] and not missing.ok
    assert normalize_header("\ufeff 纳税人识别号 ") == "纳税人识别号"


def test_duplicate_header_keeps_first_and_extras_the_rest():
    match = match_header(load_feed("license"), ["license_no", "LICENSE_NO"])
    assert match.positions == {"license_no": 0}
    assert match.extras == [(1, "LICENSE_NO")]


@pytest.mark.parametrize(
    "patch, message",
    [
        ({"format": "xml"}, "format"),
        ({"encoding": "latin-1"}, "encoding"),
        ({"modes": ["daily"]}, "modes"),
        ({"key": ["nope"]}, "key"),
        ({"version_column": "nope"}, "version_column"),
        ({"feed_id": "other"}, "does not match"),
    ],
)
def test_invalid_schema_fails_loudly(patch, message):
    raw = {
        "feed_id": "demo", "format": "csv", "encoding": "utf-8", "modes": ["incremental"],
        "key": ["id"], "version_column": "id",
        "columns": [{"name": "id", "alias": "id", "required": True, "type": "text"}],
    }
    parse_feed(raw, expected_id="demo")
    with pytest.raises(FeedSchemaError, match=message):
        parse_feed({**raw, **patch}, expected_id="demo")


@pytest.mark.parametrize(
    "column, message",
    [
        ({"name": "a", "alias": "A-b", "required": True, "type": "text"}, "snake_case"),
        ({"name": "a", "alias": "a", "required": True, "type": "money"}, "unknown type"),
        ({"name": "a", "alias": "a", "required": True, "type": "amount"}, "unit"),
        ({"name": "a", "alias": "a", "required": True, "type": "enum"}, "enum needs values"),
        ({"name": "a", "alias": "a", "required": "yes", "type": "text"}, "required"),
        ({"name": "a", "alias": "a", "required": True, "type": "text", "colour": 1}, "unknown keys"),
    ],
)
def test_invalid_column_fails_loudly(column, message):
    raw = {
        "feed_id": "demo", "format": "csv", "encoding": "utf-8", "modes": ["incremental"],
        "key": ["id"], "version_column": "id",
        "columns": [{"name": "id", "alias": "id", "required": True, "type": "text"}, column],
    }
    with pytest.raises(FeedSchemaError, match=message):
        parse_feed(raw, expected_id="demo")


def test_unknown_feed_is_a_key_error(tmp_path: Path):
    with pytest.raises(KeyError):
        load_feed("no_such_feed")
    (tmp_path / "demo.yaml").write_text("feed_id: demo\n", encoding="utf-8")
    with pytest.raises(FeedSchemaError):
        load_feed("demo", schemas_dir=tmp_path)
