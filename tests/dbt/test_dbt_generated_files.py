"""The generated dbt files (sources, staging docs, public docs, seeds) match their inputs."""

from __future__ import annotations

import csv

import yaml

from jobs.dbt import public_docs, seeds, sources
from jobs.dbt.config import SEEDS_DIR, STAGING_DIR, load_dbt_config, stale_files
from regulake.feeds import load_all_feeds
from regulake.reference import load_regions


def test_committed_sources_and_staging_docs_are_up_to_date():
    assert stale_files(sources.render_all()) == []
    assert sources.main(["--check"]) == 0


def test_committed_public_docs_are_up_to_date():
    assert public_docs.main(["--check"]) == 0


def test_committed_seeds_are_up_to_date():
    assert stale_files(seeds.render_seeds()) == []
    assert seeds.main(["--check"]) == 0
    with open(SEEDS_DIR / "ref_regions.csv", encoding="utf-8", newline="") as handle:
        codes = {row["code"] for row in csv.DictReader(handle)}
    assert codes == {region.code for region in load_regions()}


def test_every_feed_has_a_source_table_with_every_alias():
    generated = yaml.safe_load(sources.render_all()[sources.SOURCES_FILE])
    tables = {t["name"]: t for s in generated["sources"] for t in s["tables"]}
    feeds = load_all_feeds()
    assert set(tables) == set(feeds)
    for feed_id, schema in feeds.items():
        names = [c["name"] for c in tables[feed_id]["columns"]]
        assert [c.alias for c in schema.columns] == names[: len(schema.columns)]
        assert all(c["description"] for c in tables[feed_id]["columns"])


def test_staging_sql_exists_for_every_feed_and_reads_only_its_source():
    for feed_id, name in load_dbt_config().staging.items():
        sql = (STAGING_DIR / name.source / f"{name.model}.sql").read_text(encoding="utf-8")
        assert f"source_or_empty(source('{name.source}', '{feed_id}'))" in sql
        assert "ref(" not in sql


def test_enum_labels_of_the_schema_become_a_staging_test():
    rendered = sources.render_all()
    samr = yaml.safe_load(rendered[STAGING_DIR / "samr" / "_samr__models.yml"])
    penalties = next(m for m in samr["models"] if m["name"] == "stg_samr__penalties")
    assert penalties["data_tests"][0] == "silver_versions"
    labels = penalties["data_tests"][1]["canonical_labels"]["arguments"]
    assert labels["enums"]["publicity_status"] == ["正常", "撤销", "删除"]
    assert "罚款" in labels["lists"]["penalty_types"]
