"""The generator's feeds are derived from schemas/<feed_id>.yaml and speak the schema's type vocabulary."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import numpy as np
import pytest

from regulake import feeds as schemas
from synth.generator import defects as D
from synth.generator import shaping
from synth.generator.specs import (
    FEED_IDS,
    FEED_ORDER,
    FEEDS,
    GENERATED_TYPES,
    LIST_ITEM_TYPES,
    UnsupportedFeedError,
    delivery_mode,
    derive_feeds,
    full_delivery,
)

SYNTH = Path(__file__).resolve().parents[2] / "synth"


def test_every_schema_is_a_generated_feed_in_the_standard_order():
    assert len(FEEDS) == 15
    assert sorted(FEEDS) == schemas.feed_ids()
    assert FEED_IDS == FEED_ORDER
    for feed_id, feed in FEEDS.items():
        assert feed is schemas.load_feed(feed_id)


def test_generated_types_are_exactly_the_schema_types_in_use():
    used = {c.type for f in FEEDS.values() for c in f.columns}
    assert GENERATED_TYPES <= set(schemas.TYPES)
    assert used == GENERATED_TYPES  # a new type in a schema, or a dead entry here, fails
    assert {c.item_type for f in FEEDS.values() for c in f.columns if c.type == "list"} == LIST_ITEM_TYPES
    assert {c.unit for f in FEEDS.values() for c in f.columns if c.type == "amount"} == set(schemas.UNITS)


def _with_column(feed_id: str, name: str, **changes) -> dict:
    all_feeds = dict(FEEDS)
    feed = all_feeds[feed_id]
    columns = tuple(dataclasses.replace(c, **changes) if c.name == name else c for c in feed.columns)
    all_feeds[feed_id] = dataclasses.replace(feed, columns=columns)
    return all_feeds


def test_derivation_fails_on_what_the_generator_cannot_produce():
    assert list(derive_feeds(dict(FEEDS))) == list(FEED_ORDER)
    with pytest.raises(UnsupportedFeedError, match="no schema for"):
        derive_feeds({k: v for k, v in FEEDS.items() if k != "license"})
    with pytest.raises(UnsupportedFeedError, match="not generated"):
        derive_feeds({**FEEDS, "new_feed": FEEDS["license"]})
    with pytest.raises(UnsupportedFeedError, match="license.holder_name"):
        derive_feeds(_with_column("license", "holder_name", type="phone"))
    with pytest.raises(UnsupportedFeedError, match="list of uscc"):
        derive_feeds(_with_column("samr_inspection", "inspector_cert_nos", item_type="uscc"))


def test_full_delivery_follows_the_schema_modes():
    policy = {f: tuple(delivery_mode(FEEDS[f], b) for b in range(3)) for f in FEEDS}
    assert policy.pop("samr_enterprise") == ("full", "incremental", "incremental")
    assert policy.pop("matter_catalog") == policy.pop("personnel") == ("full",) * 3
    assert set(policy.values()) == {("incremental",) * 3}
    batches = np.array([0, 1, 2, 0])
    for feed in FEEDS.values():  # the vectorised form (shaping) agrees with the scalar one
        assert (np.asarray(full_delivery(feed, batches)) | np.zeros(4, bool)).tolist() == [
            full_delivery(feed, int(b)) for b in batches]


def test_enum_house_styles_name_schema_enums_with_codes():
    for (feed_id, column), house in D.ENUM_HOUSE_STYLE.items():
        col = FEEDS[feed_id].column(column)
        assert col.type == "enum" and house in ("code", "label")
        assert any(code != label for code, label in col.values.items()), (feed_id, column)


def _compared_type_names(tree: ast.AST) -> set[str]:
    """String literals compared with a column's `type`/`item_type` (or a `col_type` variable)."""
    def is_type(node: ast.AST) -> bool:
        return (isinstance(node, ast.Attribute) and node.attr in ("type", "item_type")
                or isinstance(node, ast.Name) and node.id == "col_type")

    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and is_type(node.left):
            for comp in node.comparators:
                elts = comp.elts if isinstance(comp, ast.Tuple | ast.List | ast.Set) else [comp]
                found |= {e.value for e in elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
    return found


def test_generator_code_uses_only_schema_type_names():
    names: set[str] = set()
    for path in [*sorted((SYNTH / "generator").glob("*.py")), SYNTH / "conformance.py"]:
        names |= _compared_type_names(ast.parse(path.read_text(encoding="utf-8")))
    assert {"region_code", "industry_code", "dept_code", "amount", "list", "cert_no"} <= names  # the check sees them
    assert names <= set(schemas.TYPES)
    assert shaping.IDENTIFIER_TYPES <= set(schemas.TYPES)


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
        enums = {c.name.lower(): c for c in feed.columns if c.type in ("enum", "list") and c.values}
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
