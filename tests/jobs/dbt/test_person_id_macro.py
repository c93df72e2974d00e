"""Issue 18: the dbt macro `person_id` computes regulake.person_id.person_id with the lake's salt,
and both models that compute a person_id call it (never md5 of the RIC)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import jinja2
import pytest

from jobs.dbt.config import DBT_PROJECT_DIR
from regulake.person_id import SALT_CONF, person_id

MACRO = Path(DBT_PROJECT_DIR, "macros", "person_id.sql")
MODELS = (Path(DBT_PROJECT_DIR, "models", "marts", "business", "fct_court_dishonest.sql"),
          Path(DBT_PROJECT_DIR, "models", "staging", "linking", "stg_linking__enterprise_persons.sql"))
RIC = "410105198001011237"


def _person_id_sql(key_sql: str) -> str:
    macros = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(MACRO.read_text("utf-8")).module
    return f"select {macros.person_id(key_sql)} as person_id"


def test_every_person_id_goes_through_the_one_macro():
    for model in MODELS:
        text = model.read_text(encoding="utf-8")
        assert "md5" not in text, model.name
        assert re.search(r"\{\{\s*person_id\(", text), model.name


def test_the_macro_is_the_keyed_hash_of_the_lakes_salt(spark):
    sql = _person_id_sql(f"concat('ric:', '{RIC}')")
    try:
        spark.conf.set(SALT_CONF, "a" * 64)
        salted_a = spark.sql(sql).first()["person_id"]
        assert spark.sql(sql).first()["person_id"] == salted_a  # stable across computations
        spark.conf.set(SALT_CONF, "b" * 64)
        salted_b = spark.sql(sql).first()["person_id"]
    finally:
        spark.conf.unset(SALT_CONF)
    assert salted_a == person_id("a" * 64, f"ric:{RIC}")
    assert salted_b == person_id("b" * 64, f"ric:{RIC}") != salted_a
    assert salted_a != hashlib.md5(f"ric:{RIC}".encode()).hexdigest()
    assert "${" in sql and "a" * 64 not in sql  # the compiled SQL names the salt, never holds it


def test_the_macro_refuses_to_run_without_a_salt(spark):
    spark.conf.unset(SALT_CONF)
    with pytest.raises(Exception, match="regulake.person_id_salt is not set"):
        spark.sql(_person_id_sql("'ric:1'")).collect()
