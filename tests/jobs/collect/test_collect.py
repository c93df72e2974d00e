"""Dynamic collection from a department database (jobs/collect), against a real PostgreSQL: the feed's
`source:` table read by its watermark with Spark JDBC, landed as a standard delivery, gated and promoted
like a file delivery; changed rows arrive as a new version, a full table's deleted row ends its currency."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from jobs.collect import job as collect_job
from jobs.collect.job import JdbcConnection
from jobs.landing import job as landing_job
from jobs.silver import job as silver_job
from regulake.feeds import SourceSpec, load_feed
from tests.postgres import running_postgres
from tests.stages import context

FEED = "hrss_social_insurance"
TABLE = """CREATE TABLE public.social_insurance_arrears (
    unit_code text, unit_name text, period text, insured_count integer, arrears_amount numeric(14, 2),
    arrears_months integer, reported_at timestamp)"""
INSERT = "INSERT INTO public.social_insurance_arrears VALUES (%s, %s, %s, %s, %s, %s, %s)"
ARREARS = [
    ("91410702310544548R", "嵩山商业管理有限公司", "2024-01", 9, 12216.88, 1, "2024-02-03 09:00:00"),
    ("MA4HEQUAX", "创立德企业管理咨询合伙企业(有限合伙)", "2024-01", 5, 0, 0, "2024-02-03 10:30:00"),
    ("91411723MA92CK0T2L", "企业1", "2024-01", 3, 800.5, 2, "2024-02-04 16:45:10"),
]


@pytest.fixture(scope="module")
def postgres():
    with running_postgres() as server:
        yield server


@pytest.fixture
def department_db(postgres, request):
    """A fresh database (named after the test) holding the department's table."""
    name = "dept_" + request.node.name.lower()[:40].replace("[", "_").replace("]", "")
    postgres.execute("postgres", f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}")
    return name


def connection(postgres, database: str) -> JdbcConnection:
    return JdbcConnection(url=f"jdbc:postgresql://{postgres.host}:{postgres.port}/{database}", user="postgres",
                          password=None, driver="org.postgresql.Driver")


def land_and_promote(spark, lake, landing: Path, run_id: str, feed_id: str = FEED) -> tuple[dict, dict]:
    landed = landing_job.run(context(spark, lake, run_id, landing=landing, feed_id=feed_id))
    promoted = silver_job.run(context(spark, lake, run_id, feed_id=feed_id))
    return landed, promoted


def current(spark, lake, feed_id: str = FEED):
    return spark.read.format("delta").load(lake.table_path("silver", feed_id)).where("_is_current")


def test_a_database_feed_lands_gates_and_promotes_like_a_file_feed(spark, lake, postgres, department_db, tmp_path):
    postgres.execute(department_db, TABLE, INSERT, rows=ARREARS)
    landing, schema, db = tmp_path / "landing", load_feed(FEED), connection(postgres, department_db)

    first = collect_job.collect(spark, lake, schema, db, str(landing), today=date(2024, 2, 5))
    assert (first["rows"], first["mode"], first["watermark"]) == (3, "incremental", "2024-02-04 16:45:10")
    folder = landing / FEED / "20240205"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert (manifest["batch_date"], manifest["mode"], manifest["files"][0]["rows"]) == ("20240205", "incremental", 3)
    landed, promoted = land_and_promote(spark, lake, landing, "run-1")
    assert [(d["batch_date"], d["status"], d["rows_landed"]) for d in landed["deliveries"]] == [("20240205", "loaded", 3)]
    assert promoted["promoted"] == ["20240205"] and promoted.get("unreconciled") == []
    rows = {(r.unit_code, r.period): r for r in current(spark, lake).collect()}
    assert set(rows) == {(code, "2024-01") for code, *_ in ARREARS}
    assert float(rows[("91410702310544548R", "2024-01")].arrears_amount) == 12216.88

    # The same day again: the delivery folder is immutable once its manifest exists.
    again = collect_job.collect(spark, lake, schema, db, str(landing), today=date(2024, 2, 5))
    assert again["rows"] == 0 and "already" in again["skipped"]

    # The department corrects one row and reports a new one: only those two are collected next.
    postgres.execute(department_db,
                     "UPDATE public.social_insurance_arrears SET arrears_amount = 0, arrears_months = 0, "
                     "reported_at = '2024-02-10 08:00:00' WHERE unit_code = '91410702310544548R'",
                     INSERT, rows=[("91410105786657759N", "企业2", "2024-01", 7, 3000, 1, "2024-02-10 08:00:01")])
    second = collect_job.collect(spark, lake, schema, db, str(landing), today=date(2024, 2, 11))
    assert (second["rows"], second["watermark"]) == (2, "2024-02-10 08:00:01")
    landed, promoted = land_and_promote(spark, lake, landing, "run-2")
    assert [(d["batch_date"], d["rows_landed"]) for d in landed["deliveries"]] == [("20240211", 2)]
    rows = {(r.unit_code, r.period): r for r in current(spark, lake).collect()}
    assert len(rows) == 4 and float(rows[("91410702310544548R", "2024-01")].arrears_amount) == 0.0
    versions = spark.read.format("delta").load(lake.table_path("silver", FEED)).where(
        F.col("unit_code") == "91410702310544548R").count()
    assert versions == 2  # the corrected row is a new version; the old one is kept, no longer current

    # Nothing changed since: no delivery at all.
    third = collect_job.collect(spark, lake, schema, db, str(landing), today=date(2024, 2, 12))
    assert third["rows"] == 0 and not (landing / FEED / "20240212").exists()


ENTERPRISE_TABLE = """CREATE TABLE public.enterprise (uscc text, ent_name text, ent_type text, legal_rep_name text,
    reg_capital text, establish_date date, status text, region_code text, industry_code text, updated_at timestamp)"""
ENTERPRISES = [
    ("91411723MA92CK0T2L", "企业1", "有限责任公司", "张三", "100", "2016-01-01", "存续", "410105", "C13",
     "2024-01-01 10:00:00"),
    ("91410105786657759N", "企业2", "有限责任公司", "李四", "200", "2017-05-02", "存续", "410105", "C13",
     "2024-01-01 10:00:00"),
]


def test_a_full_table_detects_deleted_rows(spark, lake, postgres, department_db, tmp_path):
    """`full: true`: every collection is the whole table as a `full` delivery, so a row the department
    deleted is missing from the next snapshot and no longer current in silver."""
    postgres.execute(department_db, ENTERPRISE_TABLE,
                     "INSERT INTO public.enterprise VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                     rows=ENTERPRISES)
    schema = replace(load_feed("samr_enterprise"), source=SourceSpec(
        kind="jdbc", connection="samr_db", table="public.enterprise", watermark=None, full=True))
    landing, db = tmp_path / "landing", connection(postgres, department_db)

    first = collect_job.collect(spark, lake, schema, db, str(landing), today=date(2024, 1, 2))
    assert (first["rows"], first["mode"]) == (2, "full")
    land_and_promote(spark, lake, landing, "run-1", "samr_enterprise")
    assert {r.uscc for r in current(spark, lake, "samr_enterprise").collect()} == {e[0] for e in ENTERPRISES}

    postgres.execute(department_db, "DELETE FROM public.enterprise WHERE uscc = '91410105786657759N'")
    second = collect_job.collect(spark, lake, schema, db, str(landing), today=date(2024, 1, 3))
    assert (second["rows"], second["mode"]) == (1, "full")
    land_and_promote(spark, lake, landing, "run-2", "samr_enterprise")
    assert {r.uscc for r in current(spark, lake, "samr_enterprise").collect()} == {"91411723MA92CK0T2L"}


def test_the_source_block_is_validated():
    from regulake.feeds import FeedSchemaError, parse_feed

    raw = {"feed_id": "f", "format": "csv", "encoding": "utf-8", "modes": ["incremental"], "key": ["k"],
           "version_column": "t",
           "columns": [{"name": "k", "alias": "k", "required": True, "type": "text"},
                       {"name": "t", "alias": "t", "required": True, "type": "timestamp"}]}
    good = parse_feed(raw | {"source": {"kind": "jdbc", "connection": "c", "table": "s.t", "watermark": "T"}})
    assert good.source == SourceSpec(kind="jdbc", connection="c", table="s.t", watermark="t", full=False)
    for bad, message in [({"kind": "jdbc", "connection": "c", "table": "s.t", "watermark": "k"}, "watermark"),
                         ({"kind": "jdbc", "connection": "c", "table": "s.t", "full": True}, "mode full"),
                         ({"kind": "odbc", "connection": "c", "table": "s.t"}, "kind"),
                         ({"kind": "jdbc", "table": "s.t", "watermark": "t"}, "connection")]:
        with pytest.raises(FeedSchemaError, match=message):
            parse_feed(raw | {"source": bad})


def test_the_dag_takes_the_connection_from_airflows_store(monkeypatch):
    """The DAG's lookup: Airflow's connection store (here its environment backend); no connection, no collection."""
    import importlib

    main = importlib.import_module("dags.regulake_main")
    assert main.source_connection(FEED) is None  # hrss_db is not defined here
    assert FEED not in main.collected_feeds()
    monkeypatch.setenv("AIRFLOW_CONN_HRSS_DB", "postgres://dept:s3cret@db.example:5433/hrss")
    found = main.source_connection(FEED)
    assert JdbcConnection.from_airflow(found) == JdbcConnection(
        url="jdbc:postgresql://db.example:5433/hrss", user="dept", password="s3cret", driver="org.postgresql.Driver")
    assert FEED in main.collected_feeds()
    assert main.source_connection("samr_penalty") is None  # no source: block


def test_a_table_without_a_required_column_is_refused_naming_it():
    schema = load_feed(FEED)
    columns = collect_job.source_columns(schema, ["UNIT_CODE", "unit_name", "period", "insured_count",
                                                  "arrears_amount", "arrears_months", "reported_at", "note"])
    assert columns["unit_code"] == "UNIT_CODE" and "note" not in columns.values()
    with pytest.raises(collect_job.SourceTableError, match="lacks the required column.*unit_code"):
        collect_job.source_columns(schema, ["unit_name", "period", "reported_at"])
