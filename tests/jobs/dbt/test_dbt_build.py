"""dbt_build on the fixture lake: every dbt test passes, and gold/public say what the fixture means.

One full build per module (fixture `dbt_lake`); the last two tests change the lake
(an incremental run, then a failing data test), so they stay at the end of the file.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from delta.tables import DeltaTable

from jobs.dbt.job import DbtBuildFailed, dbt_build
from regulake.catalog import VIEWS_DIR, publish_gold, refresh_catalog, register_table
from regulake.feeds import load_feed

from . import helpers as fixture_lake
from .helpers import E1, E2, E4, E6, E7, NOW, Version

THEMES = Path(__file__).resolve().parents[3] / "docs" / "THEMES.md"
PUBLIC_VIEWS = 22


def _rows(spark, sql: str) -> list[dict]:
    return [row.asDict() for row in spark.sql(sql).collect()]


def test_build_runs_every_dbt_test_and_they_pass(dbt_lake):
    figures = dbt_lake.figures
    assert figures["models"] == 67 and figures["seeds"] == 3
    assert figures["unit_tests"] == 6
    assert figures["data_tests"] >= 90
    assert figures["skipped"] == 0
    assert figures["passed"] == figures["models"] + figures["seeds"] + figures["unit_tests"] \
        + figures["data_tests"] - figures["warned"]
    # cross-department references the fixture breaks on purpose: reported, not fatal
    assert sorted(w.split(" (")[0] for w in figures["warnings"]) == [
        "test relationships_bridge_inspection_officer_cert_no__cert_no__ref_dim_officer_",
        "test relationships_fct_matter_citation_matter_code__matter_code__ref_dim_matter_",
    ]
    assert figures["public_views"] == PUBLIC_VIEWS
    assert (dbt_lake.target / "catalog.json").exists() and (dbt_lake.target / "index.html").exists()


def test_gold_tables_are_delta_tables_under_the_lake(spark, dbt_lake):
    for table in ("dim_enterprise", "fct_penalty", "fct_coop_task", "dim_matter", "dim_officer", "ref_regions"):
        assert DeltaTable.isDeltaTable(spark, dbt_lake.settings.table_path("gold", table)), table


def test_dim_enterprise_has_each_enterprise_exactly_once_current(spark, dbt_lake):
    current = _rows(spark, "select entity_id, count_if(is_current) as n from gold.dim_enterprise group by entity_id")
    assert {r["entity_id"]: r["n"] for r in current} == {e: 1 for e in fixture_lake.ENTERPRISES}


def test_dim_enterprise_history_puts_a_late_version_in_its_place(spark, dbt_lake):
    e1 = _rows(spark, f"select * from gold.dim_enterprise where entity_id = '{E1}' order by valid_from")
    assert [r["version_no"] for r in e1] == [1, 2, 3]
    assert [r["industry_code"] for r in e1] == ["C13", "C14", "C13"]  # C14: delivered last, dated in between
    assert [r["valid_to"] for r in e1] == [e1[1]["valid_from"], e1[2]["valid_from"], None]
    assert [r["is_current"] for r in e1] == [False, False, True]
    assert e1[2]["ent_type"] == "股份有限公司"
    dropped = _rows(spark, f"select is_current, is_in_register from gold.dim_enterprise where entity_id = '{E7}'")
    assert dropped == [{"is_current": True, "is_in_register": False}]


def test_penalties_keep_revoked_ones_but_not_as_effective(spark, dbt_lake):
    rows = _rows(spark, "select decision_no, publicity_status, is_effective, version_count from gold.fct_penalty")
    by_no = {r["decision_no"]: (r["publicity_status"], r["is_effective"], r["version_count"]) for r in rows}
    assert by_no["P2"] == ("撤销", False, 2)
    assert by_no["P5"] == ("正常", True, 2)
    assert by_no["P7"] == ("删除", False, 1)
    assert by_no["P1"] == ("正常", True, 1)


def test_coop_task_lifecycle_from_late_events(spark, dbt_lake):
    k1 = _rows(spark, "select * from gold.fct_coop_task where task_id = 'K1'")[0]
    start = fixture_lake.K1_START
    assert (k1["initiated_at"], k1["dispatched_at"], k1["handled_at"], k1["fed_back_at"], k1["closed_at"]) == (
        start, start + timedelta(days=1), start + timedelta(days=2, hours=1), start + timedelta(days=3),
        start + timedelta(days=4))
    assert (k1["task_status"], k1["total_hours"], k1["overdue_days"], k1["is_overdue"]) == ("closed", 96, 1, True)
    assert (k1["entity_id"], k1["late_event_count"], k1["is_sequence_consistent"]) == (E1, 1, True)
    trail = _rows(spark, "select event_id, event_seq, is_late_arrival from gold.fct_coop_task_event "
                         "where task_id = 'K1' order by event_seq")
    assert [r["event_id"] for r in trail] == ["K1-e1", "K1-e2", "K1-e3", "K1-e4", "K1-e5"]
    assert [r["is_late_arrival"] for r in trail] == [False, True, False, False, False]


def test_facts_carry_the_linked_enterprise(spark, dbt_lake):
    assert _rows(spark, "select entity_id from gold.fct_inspection where inspection_id = 'I1'") == [{"entity_id": E1}]
    mentions = _rows(spark, "select mention_key, entity_id from gold.fct_sentiment_mention order by mention_key")
    assert mentions == [{"mention_key": "S1|0", "entity_id": E1}, {"mention_key": "S1|1", "entity_id": None}]
    debtor = _rows(spark, "select d.entity_id, p.person_name from gold.fct_court_dishonest d "
                          "join gold.dim_person p on p.person_id = d.person_id where d.record_id = 'D2'")
    assert debtor == [{"entity_id": E6, "person_name": "张三"}]
    i1 = _rows(spark, "select rectification_status, rectification_days, rectification_delay_days "
                      "from gold.fct_inspection where inspection_id = 'I1'")[0]
    assert (i1["rectification_status"], i1["rectification_days"], i1["rectification_delay_days"]) == (
        "rectified", 50, 20)


def _analyst_query() -> str:
    text = THEMES.read_text(encoding="utf-8")
    return re.search(r"<!-- analyst-query.*?```sql\n(.*?)```", text, re.S).group(1)


def test_the_analyst_question_is_one_query_on_gold_and_on_public(spark, dbt_lake):
    expected = {(region, n) for region, n in fixture_lake.EXPECTED_REGION_COUNTS.items()}
    gold = _rows(spark, _analyst_query())
    assert {(r["region_code"], r["enterprises"]) for r in gold} == expected
    assert {r["region_name"] for r in gold} == {"中原区", "金水区"}
    public = _rows(spark, _analyst_query().replace("gold.", "public."))
    assert public == gold


def test_public_views_expose_no_unmasked_ric_or_name(spark, dbt_lake):
    views = [r["tableName"] for r in spark.sql("show tables in public").collect() if not r["isTemporary"]]
    assert len(views) == PUBLIC_VIEWS
    values: list[str] = []
    for view in views:
        for row in spark.sql(f"select * from public.{view}").collect():
            values += [str(v) for v in row.asDict().values() if v is not None]
    text = "\n".join(values)
    for ric in fixture_lake.RICS:
        assert ric not in text
        assert ric[:4] + "*" * 10 + ric[-4:] in text  # masked, not dropped
    for name in fixture_lake.PERSON_NAMES:
        assert name not in values
    assert "张*" in values


def test_gold_keeps_the_restricted_values(spark, dbt_lake):
    rics = {r["person_ric"] for r in _rows(spark, "select person_ric from gold.dim_person")}
    assert fixture_lake.RIC_ZHANG in rics


def test_person_ids_are_keyed_with_the_lakes_secret_salt(spark, dbt_lake):
    """Issue 18: not md5('ric:' + RIC), which anyone can compute for every RIC; the salt stays out of dbt's files."""
    import hashlib

    from regulake.person_id import person_id, person_id_salt

    salt = person_id_salt(dbt_lake.settings)
    key = f"ric:{fixture_lake.RIC_ZHANG}"
    ids = {r["person_id"] for r in _rows(spark, f"select person_id from gold.dim_person where person_key = '{key}'")}
    debtor = {r["person_id"] for r in _rows(spark, "select person_id from gold.fct_court_dishonest where record_id = 'D2'")}
    assert ids == debtor == {person_id(salt, key)}
    assert hashlib.md5(key.encode()).hexdigest() not in ids
    leaked = [p for p in dbt_lake.target.rglob("*") if p.is_file() and salt in p.read_text("utf-8", errors="ignore")]
    assert leaked == []


def test_public_views_outlive_the_dbt_process_and_show_only_what_was_published(spark, dbt_lake):
    settings = dbt_lake.settings
    files = sorted(Path(settings.lake_root, VIEWS_DIR).glob("public.*.sql"))
    assert len(files) == PUBLIC_VIEWS
    assert "gold.dim_enterprise" in Path(settings.lake_root, VIEWS_DIR, "public.dim_enterprise.sql").read_text()
    spark.sql("drop view public.dim_enterprise")
    refresh_catalog(spark, settings)  # what another process does when it attaches the lake
    assert not spark.catalog.tableExists("public.dim_enterprise"), "shown before any run published gold"
    published = publish_gold(settings, "test-run")  # what the run's publish stage does last
    refresh_catalog(spark, settings)
    assert spark.sql("select count(*) as n from public.dim_enterprise").first()["n"] == 10
    definition = spark.sql("show create table public.dim_enterprise").first()[0]
    assert f"VERSION AS OF {published['dim_enterprise']}" in definition, definition


def test_gold_and_public_carry_the_docs_as_comments_and_the_docs_site_is_in_the_lake(spark, dbt_lake):
    settings = dbt_lake.settings
    refresh_catalog(spark, settings)  # the public views as another process registers them from the lake

    def comments(table: str) -> dict[str, str]:
        return {r["col_name"]: r["comment"] for r in spark.sql(f"describe table {table}").collect()
                if r["col_name"] and not r["col_name"].startswith("#")}

    gold, public = comments("gold.dim_enterprise"), comments("public.dim_enterprise")
    assert gold["entity_id"] == public["entity_id"] == "Enterprise id = USCC (主体标识, 统一社会信用代码)."
    assert all(gold.values()) and all(public.values()), (gold, public)
    view = spark.sql("describe table extended public.dim_enterprise").collect()
    assert any(r["col_name"] == "Comment" and "公共数据视图" in r["data_type"] for r in view)
    docs = Path(settings.lake_root, "_docs", "index.html")
    assert docs.is_file() and "dim_enterprise" in docs.read_text(encoding="utf-8")


def test_every_model_and_column_is_described(dbt_lake):
    manifest = json.loads((dbt_lake.target / "manifest.json").read_text(encoding="utf-8"))
    catalog = json.loads((dbt_lake.target / "catalog.json").read_text(encoding="utf-8"))
    checked = 0
    for unique_id, node in manifest["nodes"].items():
        if node["resource_type"] not in ("model", "seed"):
            continue
        assert node["description"].strip(), f"{unique_id} has no description"
        built = {c.lower() for c in catalog["nodes"][unique_id]["columns"]}
        documented = {c.lower(): v["description"] for c, v in node["columns"].items()}
        assert built == set(documented), f"{unique_id}: columns built {sorted(built ^ set(documented))} differ"
        assert all(d.strip() for d in documented.values()), f"{unique_id} has undescribed columns"
        checked += 1
    assert checked == 70
    for source in manifest["sources"].values():
        assert source["description"] and all(c["description"] for c in source["columns"].values())


# --- the two tests below change the lake: keep them last -------------------------------


def test_incremental_build_takes_late_events_new_versions_and_relinks(spark, dbt_lake):
    settings = dbt_lake.settings
    versions = fixture_lake.silver_versions()
    # E2 struck off (吊销) in a new version; K2's initiate arrives after its dispatch; P1 revoked
    versions["samr_enterprise"].append(Version(fixture_lake.enterprise(
        E2, "郑州乙贸易有限公司", "410105", "F51", fixture_lake.at(1), "张三", fixture_lake.RIC_ZHANG, status="吊销"),
        "20240310", ingested_at=NOW, promotion_seq=1))
    versions["coop_task_event"].append(Version(fixture_lake.event("K2-e1", "K2", "发起", fixture_lake.at(5), subject=E2, to=None),
                                               "20240310", ingested_at=NOW, promotion_seq=1))
    versions["samr_penalty"].append(Version(fixture_lake.penalty("P1", E2, "严重", fixture_lake.days_ago(30), "撤销", fixture_lake.at(1)),
                                            "20240310", ingested_at=NOW, promotion_seq=1))
    # P3 revoked in a delivery the gate held back and released after later ones: ingested before
    # everything the marts were built from, promoted after it.
    versions["samr_penalty"].append(Version(fixture_lake.penalty("P3", E4, "严重", fixture_lake.days_ago(45), "撤销", fixture_lake.at(2)),
                                            "20240302", record_no=9, ingested_at=fixture_lake.LINKED_AT - timedelta(days=30),
                                            promotion_seq=2))
    for feed_id in ("samr_enterprise", "coop_task_event", "samr_penalty"):
        fixture_lake.write_table(spark, settings, "silver", feed_id,
                         fixture_lake.silver_frame(spark, load_feed(feed_id), versions[feed_id]))
    links = [(f, k, E1 if k == "H7" else e, "name_fuzzy" if k == "H7" else m) for f, k, e, m in fixture_lake.xref_links()]
    relinked = fixture_lake.xref_frame(spark, links).where("record_key <> 'H7'").unionByName(
        fixture_lake.xref_frame(spark, [x for x in links if x[1] == "H7"], linked_at=NOW))
    fixture_lake.write_table(spark, settings, "gold", "entity_xref", relinked)

    figures = dbt_build(spark, settings, "test-run-2", docs=False, target_path=dbt_lake.target,
                        select=["dim_enterprise", "fct_coop_task", "fct_coop_task_event", "fct_hotline_ticket",
                                "fct_penalty"])
    # the five selected tables, plus the staging/intermediate views they read (re-created with them)
    assert figures["models"] > 5 and figures["skipped"] == 0

    merge = DeltaTable.forPath(spark, settings.table_path("gold", "dim_enterprise")).history(1).first()
    assert merge["operation"] == "MERGE"
    assert (merge["operationMetrics"]["numTargetRowsInserted"], merge["operationMetrics"]["numTargetRowsUpdated"]) \
        == ("1", "1")  # the new E2 version, and the one it ends; nothing else rewritten
    e2 = _rows(spark, f"select status, is_current, valid_to from gold.dim_enterprise where entity_id = '{E2}' "
                      "order by valid_from")
    assert [(r["status"], r["is_current"]) for r in e2] == [("存续", False), ("吊销", True)]
    k2 = _rows(spark, "select task_status, initiated_at, event_count, late_event_count, entity_id "
                      "from gold.fct_coop_task where task_id = 'K2'")[0]
    assert (k2["task_status"], k2["initiated_at"], k2["event_count"], k2["late_event_count"]) == (
        "dispatched", fixture_lake.at(5), 2, 1)
    trail = _rows(spark, "select event_id, event_seq from gold.fct_coop_task_event where task_id = 'K2' "
                         "order by event_seq")
    assert [r["event_id"] for r in trail] == ["K2-e1", "K2-e2"]
    assert _rows(spark, "select entity_id from gold.fct_hotline_ticket where ticket_id = 'H7'") == [{"entity_id": E1}]
    assert _rows(spark, "select is_effective from gold.fct_penalty where decision_no = 'P1'") == [
        {"is_effective": False}]
    assert _rows(spark, "select is_effective, publicity_status, version_count from gold.fct_penalty "
                        "where decision_no = 'P3'") == [
        {"is_effective": False, "publicity_status": "撤销", "version_count": 2}]


def test_a_feed_not_delivered_yet_reads_as_empty(spark, dbt_lake):
    spark.sql("drop table silver.license")  # external: the files stay, the catalog forgets it
    try:
        figures = dbt_build(spark, dbt_lake.settings, "test-run-3", docs=False, target_path=dbt_lake.target,
                            select=["stg_license__licenses"])
        assert figures["models"] == 1 and figures["data_tests"] == 2
        assert spark.sql("select count(*) as n from gold.stg_license__licenses").first()["n"] == 0
    finally:
        register_table(spark, dbt_lake.settings.lake_root, "silver", "license")


def test_a_failing_dbt_test_makes_dbt_build_raise_naming_it(spark, dbt_lake):
    settings = dbt_lake.settings
    versions = fixture_lake.silver_versions()["samr_penalty"]
    versions.append(Version(fixture_lake.penalty("P9", E4, "特别严重", fixture_lake.days_ago(3), None, fixture_lake.at(3)), "20240311",
                            ingested_at=NOW))
    fixture_lake.write_table(spark, settings, "silver", "samr_penalty",
                     fixture_lake.silver_frame(spark, load_feed("samr_penalty"), versions))
    with pytest.raises(DbtBuildFailed) as failed:
        dbt_build(spark, settings, "test-run-4", docs=False, target_path=dbt_lake.target,
                  select=["stg_samr__penalties"])
    assert len(failed.value.failures) == 1
    assert failed.value.failures[0].startswith("test canonical_labels_stg_samr__penalties_")
    assert "canonical_labels_stg_samr__penalties_" in str(failed.value)
