"""The committed derived files (dbt sources, staging docs, public docs, seeds) match their inputs.

The check is scripts/generate.py's (`make check-generated`); these tests run it and show
that it fails, naming the file, when a committed file is stale.
"""

from __future__ import annotations

import csv

import yaml

from jobs.dbt import public_docs, seeds, sources
from jobs.dbt.config import SEEDS_DIR, STAGING_DIR, load_dbt_config
from regulake.feeds import load_all_feeds
from regulake.reference import load_regions
from scripts import generate


def test_committed_derived_files_are_up_to_date():
    rendered = generate.render_committed()
    assert set(sources.render_all()) | set(seeds.render_seeds()) | set(public_docs.render_public_docs()) == \
        set(rendered)
    assert generate.stale(rendered) == []  # else: `make generate`, and commit the result
    assert generate.main(["--check"]) == 0


def test_a_stale_or_orphaned_derived_file_fails_the_check_and_is_named(tmp_path, capsys):
    rendered = generate.render_committed()
    text = rendered[sources.SOURCES_FILE]
    committed = tmp_path / "models" / "staging" / "_sources.yml"
    committed.parent.mkdir(parents=True)
    committed.write_text(text.replace("description: ", "description: edited by hand ", 1), encoding="utf-8")
    orphan = tmp_path / "models" / "staging" / "gone" / "_gone__models.yml"
    orphan.parent.mkdir()
    orphan.write_text(sources.HEADER + "version: 2\n", encoding="utf-8")
    missing = tmp_path / "seeds" / "ref_new.csv"
    fake = {committed: text, missing: "code\n"}

    assert generate.check(fake, root=tmp_path) == 1
    err = capsys.readouterr().err
    assert f"out of date: {committed}" in err
    assert f"no longer generated: {orphan}" in err
    assert f"missing: {missing}" in err

    committed.write_text(text, encoding="utf-8")
    orphan.unlink()
    missing.parent.mkdir()
    missing.write_text("code\n", encoding="utf-8")
    assert generate.check(fake, root=tmp_path) == 0


def test_committed_seeds_hold_the_reference_rows():
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
