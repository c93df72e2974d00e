"""Outlier flags (log-scale 3 sigma) and row accounting, as pure transforms."""

from __future__ import annotations

import math

from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from jobs.silver.accounting import row_accounting
from jobs.silver.outliers import flag_outliers, outlier_stats
from jobs.silver.quality import OutlierRule

RULE = OutlierRule(z=3.0, min_count=30, columns=("fine", "heat"))


def test_outliers_are_flagged_never_changed(spark):
    # 60 fines spread around 1000 on a log scale, one zero, one huge value.
    fines = [1000 * math.exp(((i % 13) - 6) / 6) for i in range(60)] + [0.0, 1e9]
    rows = [(i, fine, 5) for i, fine in enumerate(fines)]
    frame = spark.createDataFrame(rows, "id int, fine double, heat int")
    flagged = flag_outliers(frame, RULE)
    got = {r.id: (r.fine, r._outlier_flags) for r in flagged.collect()}
    assert got[61] == (1e9, ["fine:outlier"])
    assert got[60] == (0.0, [])  # zero has no logarithm: neither counted nor flagged
    assert all(flags == [] for i, (_, flags) in got.items() if i < 60)
    stats = outlier_stats(frame, RULE)
    assert stats["fine"].count == 61 and stats["heat"].std == 0.0  # equal values: never flagged


def test_too_few_values_are_never_flagged(spark):
    frame = spark.createDataFrame([(1, 10.0, 1), (2, 1e12, 1)], "id int, fine double, heat int")
    assert {tuple(r._outlier_flags) for r in flag_outliers(frame, RULE).collect()} == {()}


def test_row_accounting_reconciles(spark):
    deliveries = spark.createDataFrame([("f", "20240101", "d1", 6), ("f", "20240102", "d2", 3)],
                                       "feed_id string, batch_date string, delivery_id string, manifest_rows long")
    quarantine = spark.createDataFrame([("d1", "landing"), ("d1", "silver"), ("d2", "silver")],
                                       "delivery_id string, stage string")
    # d1's last copy is a quarantined record of a full delivery (null hash, kept for currency): not a copy here.
    copies = spark.createDataFrame([("d1", "h")] * 4 + [("d2", "h")] * 2 + [("d1", None)],
                                   "delivery_id string, content_hash string")
    silver = spark.createDataFrame([("d1",)] * 3 + [("d2",)], "_delivery_id string")
    got = row_accounting(deliveries, quarantine, copies, silver).drop("accounted_at")
    expected = spark.createDataFrame(
        [("f", "20240101", "d1", 6, 6, 2, 1, 1, 1, 3, True), ("f", "20240102", "d2", 3, 3, 1, 0, 1, 1, 1, True)],
        got.schema)
    assertDataFrameEqual(got, expected)
    wrong = row_accounting(deliveries.withColumn("manifest_rows", F.lit(7).cast("long")), quarantine, copies,
                           silver)
    assert {r.reconciled for r in wrong.collect()} == {False}
