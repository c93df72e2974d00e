"""Issue 13: which enterprises are new to linking is decided by silver's promotion sequence, not by
`_ingested_at` (a registration held by the quality gate and released after later deliveries was
ingested earlier than what the last run saw, yet it is new)."""

from __future__ import annotations

from datetime import datetime

from jobs.linking.job import latest_enterprises, new_enterprises


def test_a_released_registration_ingested_before_the_watermark_is_new(spark):
    rows = [
        # uscc, _ingested_at, _promotion_seq
        ("A", datetime(2024, 2, 29, 21), 3),  # seen by the last run (sequence 3)
        ("B", datetime(2024, 1, 31, 21), 5),  # held by the gate, released after A: ingested earlier
        ("C", datetime(2024, 1, 31, 21), 2),  # old
        ("D", datetime(2024, 3, 31, 21), None),  # a silver row written before sequences: by time
        ("E", datetime(2024, 1, 31, 21), None),
    ]
    silver = spark.createDataFrame(rows, "uscc string, _ingested_at timestamp, _promotion_seq bigint")
    enterprises = latest_enterprises(silver)
    last_seq, last_ingested = 3, datetime(2024, 2, 29, 21)
    assert sorted(r.uscc for r in new_enterprises(enterprises, last_seq, last_ingested).collect()) == ["B", "D"]
    # By _ingested_at alone B would be missed: only D is later than the watermark.
    by_time = enterprises.where(enterprises["_ingested_at"] > last_ingested)
    assert sorted(r.uscc for r in by_time.collect()) == ["D"]
    # The first run: everything is new; silver without the column reads as null sequences.
    assert new_enterprises(enterprises, None, None).count() == 5
    legacy = latest_enterprises(spark.createDataFrame([("F", datetime(2024, 3, 31, 21))],
                                                      "uscc string, _ingested_at timestamp"))
    assert [r.uscc for r in new_enterprises(legacy, None, last_ingested).collect()] == ["F"]
