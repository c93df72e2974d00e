"""Delta through the one session factory: write, MERGE upsert, time travel, catalog."""

from delta.tables import DeltaTable
from pyspark.testing import assertDataFrameEqual

from regulake.catalog import register_table


def test_write_merge_and_time_travel(spark, lake_settings):
    path = lake_settings.table_path("audit", "roundtrip")
    spark.createDataFrame([(1, "a"), (2, "b")], "id int, value string").write.format("delta").save(path)
    register_table(spark, lake_settings.lake_root, "audit", "roundtrip")

    updates = spark.createDataFrame([(2, "B"), (3, "c")], "id int, value string")
    (
        DeltaTable.forName(spark, "audit.roundtrip").alias("t")
        .merge(updates.alias("s"), "t.id = s.id")
        .whenMatchedUpdateAll()
        .whenNotMatchedInsertAll()
        .execute()
    )

    assertDataFrameEqual(
        spark.table("audit.roundtrip"),
        spark.createDataFrame([(1, "a"), (2, "B"), (3, "c")], "id int, value string"),
    )
    assertDataFrameEqual(
        spark.read.format("delta").option("versionAsOf", 0).load(path),
        spark.createDataFrame([(1, "a"), (2, "b")], "id int, value string"),
    )
    assert spark.sql("SELECT count(*) FROM audit.roundtrip VERSION AS OF 0").first()[0] == 2
    # stored where standard §5 says, as a Delta table any reader can open
    assert path.endswith("/audit/roundtrip") and DeltaTable.isDeltaTable(spark, path)
