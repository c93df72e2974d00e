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


def test_a_projection_past_the_codegen_limit_gives_results_without_logging_its_source(spark):
    """Spark falls back to interpreted evaluation; only the fallback's own loggers are lowered."""
    from pyspark.sql import functions as F

    from regulake.spark import _CODEGEN_FALLBACK_LOGGERS

    full_width = "".join(chr(c) for c in range(0xFF01, 0xFF5F))
    half_width = "".join(chr(c) for c in range(0x21, 0x7F))
    # Values from data, not literals: a constant projection is folded away before code generation.
    # Forty columns normalised like silver's text columns exceed the 64 KB method limit.
    source = spark.range(1).select(
        *[F.concat(F.lit("１"), F.col("id").cast("string")).alias(f"c{i}") for i in range(40)])

    def normalised(name):
        text = F.regexp_replace(F.regexp_replace(F.translate(F.col(name), full_width, half_width),
                                                 r"^\s+|\s+$", ""), r"\s+", " ")
        return F.when(text == "", None).otherwise(text).alias(name)

    assert set(source.select(*[normalised(f"c{i}") for i in range(40)]).first()) == {"10"}
    log_manager = spark.sparkContext._jvm.org.apache.logging.log4j.LogManager
    for name, level in _CODEGEN_FALLBACK_LOGGERS.items():
        assert log_manager.getLogger(name).getLevel().toString() == level
    assert log_manager.getLogger("org.apache.spark.sql.execution.SparkPlan").getLevel().toString() == "WARN"
