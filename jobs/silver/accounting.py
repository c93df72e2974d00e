"""`audit.row_accounting`: where every delivered record went, per promoted delivery.

rows_in = rows_quarantined (landing parse-time + silver) + rows_duplicate +
rows_accepted, and `reconciled` says whether rows_in equals the manifest's
rows (standard §5). Duplicates are counted from the set of copies, so the
figures of an earlier delivery change when a later-processed delivery turns
out to hold the earlier copy of a record; the accounting is therefore
recomputed for the whole feed after each run (one aggregate per input).
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

ACCOUNTING_COLUMNS = (
    "feed_id", "batch_date", "delivery_id", "manifest_rows", "rows_in", "rows_quarantined",
    "rows_quarantined_landing", "rows_quarantined_silver", "rows_duplicate", "rows_accepted",
    "reconciled", "accounted_at",
)


def row_accounting(deliveries: DataFrame, quarantine: DataFrame, copies: DataFrame,
                   silver: DataFrame) -> DataFrame:
    """Per delivery of `deliveries` (feed_id, batch_date, delivery_id, manifest_rows).

    quarantine: `audit.quarantine` rows of the feed; copies:
    `audit.record_copies` rows of the feed; silver: `silver.<feed>` rows.
    """
    quarantined = quarantine.groupBy("delivery_id").agg(
        F.count(F.when(F.col("stage") == "landing", 1)).alias("rows_quarantined_landing"),
        F.count(F.when(F.col("stage") == "silver", 1)).alias("rows_quarantined_silver"),
    )
    # Quarantined copies (null content hash: kept for currency only) are counted as quarantined.
    copied = copies.where(F.col("content_hash").isNotNull()).groupBy("delivery_id").agg(
        F.count(F.lit(1)).alias("__copies"))
    accepted = silver.groupBy(F.col("_delivery_id").alias("delivery_id")).agg(
        F.count(F.lit(1)).alias("rows_accepted"))
    joined = (deliveries.join(quarantined, "delivery_id", "left").join(copied, "delivery_id", "left")
              .join(accepted, "delivery_id", "left").na.fill(0, ["rows_quarantined_landing",
                                                                  "rows_quarantined_silver", "__copies",
                                                                  "rows_accepted"]))
    q = F.col("rows_quarantined_landing") + F.col("rows_quarantined_silver")
    duplicate = F.col("__copies") - F.col("rows_accepted")
    rows_in = q + duplicate + F.col("rows_accepted")
    return joined.select(
        "feed_id", "batch_date", "delivery_id", F.col("manifest_rows").cast("long").alias("manifest_rows"),
        rows_in.cast("long").alias("rows_in"), q.cast("long").alias("rows_quarantined"),
        F.col("rows_quarantined_landing").cast("long").alias("rows_quarantined_landing"),
        F.col("rows_quarantined_silver").cast("long").alias("rows_quarantined_silver"),
        duplicate.cast("long").alias("rows_duplicate"), F.col("rows_accepted").cast("long").alias("rows_accepted"),
        (rows_in == F.col("manifest_rows")).alias("reconciled"),
        F.current_timestamp().alias("accounted_at"),
    )
