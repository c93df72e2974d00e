"""synth.scoring.record_report: quarantine scored by position, reason codes compared where both agree."""

from __future__ import annotations

import pandas as pd

from synth.scoring.record_report import quarantine_tables


def test_quarantine_is_scored_by_position_and_reason():
    rows = [  # feed, batch, file, record_no, defect, expected
        ("f", "20240131", "part-0001.csv", 1, "invalid_key", "quarantined"),
        ("f", "20240131", "part-0001.csv", 2, "parse_error", "quarantined"),
        ("f", "20240131", "part-0001.csv", 3, None, "accepted"),
        ("f", "20240131", "part-0001.csv", 4, "missing_required", "quarantined"),
        ("f", "20240229", "part-0001.csv", 1, "parse_error", "quarantined"),  # delivery not loaded: left out
    ]
    truth = pd.DataFrame(rows, columns=["feed_id", "batch_date", "file_name", "record_no", "defect", "expected"])
    quarantine = pd.DataFrame([
        ("f", "20240131", "part-0001.csv", 1, "invalid_key"),
        ("f", "20240131", "part-0001.csv", 2, "encoding_error"),   # found, other reason
        ("f", "20240131", "part-0001.csv", 3, "invalid_value"),    # a false alarm
    ], columns=["feed_id", "batch_date", "file_name", "record_no", "reason_code"])
    tables = quarantine_tables(truth, quarantine, loaded={("f", "20240131")})
    overall = tables["overall"].iloc[0]
    assert (overall.planted, overall.quarantined, overall.both) == (3, 3, 2)
    assert (overall.precision, overall.recall, overall.reason_agreement) == (0.6667, 0.6667, 0.5)
    assert not overall.met
    per_code = tables["per_code"].set_index("reason_code")
    assert per_code.loc["missing_required", "recall"] == 0.0
    assert per_code.loc["invalid_value", "precision"] == 0.0
