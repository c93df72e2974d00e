"""A process that attaches another lake forgets the first one's catalog entries, never its files."""

from __future__ import annotations

from regulake.catalog import refresh_catalog
from regulake.spark import get_spark


def test_attaching_another_lake_keeps_every_file_of_the_first(spark, lake_settings, tmp_path):
    first = lake_settings.with_overrides(**{"lake.root": str(tmp_path / "first")})
    second = lake_settings.with_overrides(**{"lake.root": str(tmp_path / "second")})
    try:
        get_spark(first)
        spark.range(1).createOrReplaceTempView("t")  # listTables lists temp views too: no table
        spark.range(3).write.format("delta").save(str(tmp_path / "first" / "gold" / "t"))
        refresh_catalog(spark, first)
        assert spark.table("gold.t").count() == 3
        get_spark(second)
        # Spark's in-memory catalog deletes a dropped database's folder: detaching must not drop it.
        assert (tmp_path / "first" / "gold" / "t" / "_delta_log").is_dir(), "attaching a lake deleted another's gold"
        assert not spark.catalog.tableExists("gold.t")
        location = {row[0]: row[1] for row in spark.sql("DESCRIBE DATABASE gold").collect()}["Location"]
        assert location.rstrip("/").endswith(str(tmp_path / "second" / "gold")), location
        get_spark(first)
        assert spark.table("gold.t").count() == 3
    finally:
        spark.catalog.dropTempView("t")
        get_spark(lake_settings)
