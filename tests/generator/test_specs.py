"""The generator's feed table agrees with schemas/<feed_id>.yaml (the pipeline's source of truth)."""

from __future__ import annotations

import pytest

from synth.generator.specs import FEEDS

feeds_module = pytest.importorskip("regulake.feeds")


@pytest.mark.parametrize("feed_id", sorted(FEEDS))
def test_generator_feed_matches_schema(feed_id):
    schema = feeds_module.load_feed(feed_id)
    mine = FEEDS[feed_id]
    assert [c.name for c in schema.columns] == mine.names
    assert [c.name for c in schema.columns if c.required] == mine.required
    assert tuple(schema.key) == mine.key
    assert (schema.format, schema.encoding) == (mine.fmt, mine.encoding)
    full_modes = {"first": {"full", "incremental"}, "always": {"full"}, "never": {"incremental"}}[mine.full]
    assert set(schema.modes) == full_modes


_SKIP = {"invalid_value", "optional_invalid", "parse_error", "encoding_error", "missing_required", "duplicate"}


def test_clean_enum_and_list_values_are_in_the_schema(defect_run):
    import re

    import pandas as pd

    from synth.conformance import _parse_file

    truth = pd.read_parquet(defect_run.truth / "records.parquet").drop_duplicates(
        ["feed_id", "batch_date", "file_name", "record_no"])
    defects = {(r.feed_id, r.batch_date, r.file_name, r.record_no): r.defect for r in truth.itertuples()}
    outside = []
    for feed_id, feed in FEEDS.items():
        schema = feeds_module.load_feed(feed_id)
        enums = {c.name.lower(): c for c in schema.columns if c.type in ("enum", "list") and c.values}
        for path in sorted((defect_run.landing / feed_id).glob("*/part-*")):
            for no, (_, fields) in enumerate(_parse_file(feed, path.read_bytes()).records, start=1):
                if fields is None or defects.get((feed_id, path.parent.name, path.name, no)) in _SKIP:
                    continue
                fields = {k.lower(): v for k, v in fields.items()}
                for col, c in enums.items():
                    value = fields.get(col)
                    if value in (None, ""):
                        continue
                    allowed = set(c.values) | set(c.values.values()) if isinstance(c.values, dict) else set(c.values)
                    items = value if isinstance(value, list) else re.split("[;；、]", str(value).strip())
                    outside += [(feed_id, col, item) for item in items if item.strip() not in allowed]
    assert outside == []
