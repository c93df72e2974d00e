"""Scoring against the generator's truth: quarantined records vs planted defects.

A small generated landing is landed with jobs.landing and promoted with
jobs.silver; every record quarantined (landing or silver) must be a planted
defect with the same reason code, and every planted record defect must be
quarantined with its code: precision and recall >= 0.99. Planted
`optional_invalid` and `check_digit` defects must show up as data-quality
flags on the records silver holds.
"""

from __future__ import annotations

import os

import pandas as pd
import pytest
from pyspark.sql import functions as F

from jobs.silver import job as silver_job
from jobs.silver.gate import GateFailed
from jobs.silver.records import REASON_CODES
from tests.stages import context

QUARANTINE_CODES = ("parse_error", "encoding_error", *REASON_CODES)
ENTERPRISES = int(os.environ.get("REGULAKE_SCORING_ENTERPRISES", "150"))


def score(planted: set, found: set) -> tuple[float, float]:
    hits = len(planted & found)
    return (hits / len(found) if found else 1.0), (hits / len(planted) if planted else 1.0)


@pytest.mark.slow
def test_quarantine_matches_planted_defects(spark, lake, tmp_path):
    from jobs.landing import job as landing_job
    from regulake.feeds import feed_ids
    from synth.generator import generate

    out = tmp_path / "generated"
    generate(out, ENTERPRISES, 2, seed=13, progress=False, workers=1)
    held = {}
    for feed_id in feed_ids():
        landing_job.run(context(spark, lake, "scoring", landing=str(out / "landing"), feed_id=feed_id))
        try:
            silver_job.run(context(spark, lake, "scoring", feed_id=feed_id))
        except GateFailed as failure:  # scored anyway: held deliveries count as misses
            held[feed_id] = str(failure)

    loaded = {(r.feed_id, r.batch_date) for r in spark.read.format("delta").load(
        lake.table_path("audit", "delivery_log")).where("status = 'loaded'").collect()}
    truth = pd.read_parquet(out / "truth" / "records.parquet")
    truth = truth[[(f, b) in loaded for f, b in zip(truth.feed_id, truth.batch_date, strict=True)]]
    position = ["feed_id", "batch_date", "file_name", "record_no"]
    planted = {(*key, code) for *key, code in truth.loc[truth.defect.isin(QUARANTINE_CODES),
                                                         [*position, "defect"]].itertuples(index=False)}
    quarantine = spark.read.format("delta").load(lake.table_path("audit", "quarantine"))
    found = {(r.feed_id, r.batch_date, r.file_name, r.record_no, r.reason_code)
             for r in quarantine.select(*position, "reason_code").collect()}
    precision, recall = score(planted, found)
    print(f"scoring: {len(planted)} planted, {len(found)} quarantined, precision {precision:.4f}, "
          f"recall {recall:.4f}, held {sorted(held)}")
    misses = sorted(planted - found)[:10]
    false_alarms = sorted(found - planted)[:10]
    assert precision >= 0.99 and recall >= 0.99, (precision, recall, misses, false_alarms, held)

    # Flags: every planted optional_invalid / check_digit record that silver holds is flagged.
    for defect, flag in (("optional_invalid", ":invalid_value"), ("check_digit", ":check_digit")):
        expected = {tuple(k) for k in truth.loc[truth.defect == defect, position].itertuples(index=False)}
        flagged, held_rows = set(), set()
        for feed_id in {k[0] for k in expected}:
            silver = spark.read.format("delta").load(lake.table_path("silver", feed_id))
            for r in silver.select("_batch_date", "_file_name", "_record_no", "_dq_flags").collect():
                key = (feed_id, r._batch_date, r._file_name, r._record_no)
                held_rows.add(key)
                if any(f.endswith(flag) for f in r._dq_flags):
                    flagged.add(key)
        in_silver = expected & held_rows
        assert in_silver, defect
        assert len(in_silver & flagged) / len(in_silver) >= 0.99, (defect, sorted(in_silver - flagged)[:10])

    # Row accounting reconciles with every manifest.
    accounting = spark.read.format("delta").load(lake.table_path("audit", "row_accounting"))
    assert accounting.where(~F.col("reconciled")).count() == 0
