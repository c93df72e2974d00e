"""The public layer's masking, fast: a public model's SQL rendered with the project's masking
macros (plain Jinja, no dbt run) and run by Spark on a few rows. The full dbt build
(test_dbt_build.py) checks the same on the fixture lake, with the singular dbt test."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest

from jobs.dbt.config import DBT_PROJECT_DIR
from tests.jobs.dbt.helpers import E4, RIC_ZHANG, ric

MASKING = Path(DBT_PROJECT_DIR, "macros", "masking.sql")
COURT_VIEW = Path(DBT_PROJECT_DIR, "models", "public", "pub_fct_court_dishonest.sql")
COURT_GOLD = ("record_id string, case_code string, entity_id string, match_method string, party_type string, "
              "is_natural_person boolean, party_name string, party_id_no string, court_name string, "
              "publish_date date, performance_status string, removed_date date, is_active boolean, "
              "updated_at timestamp")
RIC_LEGAL = ric("410103", "19700303", 321)


def render_public_model(path: Path, view: str) -> str:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    macros = env.from_string(MASKING.read_text(encoding="utf-8")).module
    names = [n for n in dir(macros) if not n.startswith("_")]
    return env.from_string(path.read_text(encoding="utf-8")).render(
        config=lambda **_: "", ref=lambda _name: view, **{n: getattr(macros, n) for n in names})


@pytest.fixture(scope="module")
def court_public(spark):
    rows = [
        # a 法人 record that carries a person's RIC (a 个体 operator delivered as 法人)
        ("D1", "c1", None, "none", "法人", False, "李四", RIC_LEGAL),
        ("D2", "c2", None, "ric", "自然人", True, "张三", RIC_ZHANG),
        ("D3", "c3", None, "uscc", "法人", False, "郑州丙餐饮有限公司", "91410105000000035J"),
        ("D4", "c4", None, "uscc", "法人", False, "郑州丁建材有限公司", "41010500-0"),
        ("D5", "c5", None, "none", "法人", False, "某公司", None),
        ("D6", "c6", None, "uscc", "法人", False, "郑州丁建材有限公司", E4),  # an all-digit USCC: RIC-shaped
        ("D7", "c7", None, "none", "法人", False, "王五", RIC_LEGAL.lower()[:-1] + "x"),
    ]
    full = [(*r, "法院", None, "全部未履行", None, True, None) for r in rows]
    spark.createDataFrame(full, COURT_GOLD).createOrReplaceTempView("gold_fct_court_dishonest_fixture")
    sql = render_public_model(COURT_VIEW, "gold_fct_court_dishonest_fixture")
    return {r["record_id"]: r.asDict() for r in spark.sql(sql).collect()}


def test_a_ric_is_masked_whatever_party_type_says(court_public):
    assert court_public["D1"]["party_id_no"] == RIC_LEGAL[:4] + "*" * 10 + RIC_LEGAL[-4:]
    assert court_public["D1"]["party_name"] == "李*"
    assert court_public["D2"]["party_id_no"] == RIC_ZHANG[:4] + "*" * 10 + RIC_ZHANG[-4:]
    assert court_public["D2"]["party_name"] == "张*"
    assert court_public["D7"]["party_id_no"].count("*") == 10
    text = "\n".join(str(v) for row in court_public.values() for v in row.values())
    assert RIC_LEGAL not in text and RIC_ZHANG not in text and "李四" not in text and "王五" not in text


def test_an_enterprise_debtor_is_shown_as_delivered(court_public):
    assert (court_public["D3"]["party_name"], court_public["D3"]["party_id_no"]) == (
        "郑州丙餐饮有限公司", "91410105000000035J")
    assert court_public["D4"]["party_id_no"] == "41010500-0"
    assert (court_public["D5"]["party_name"], court_public["D5"]["party_id_no"]) == ("某公司", None)
    assert court_public["D6"]["party_id_no"] == E4[:4] + "*" * 10 + E4[-4:]  # over-masked, never leaked
