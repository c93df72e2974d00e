"""Great Expectations suites built from `schemas/<feed>.yaml`, plus the custom expectations.

The suite of a feed is derived from its schema and `conf/quality.yaml` every
time it is used, so the two never drift. `make generate` (or `python -m jobs.silver`)
writes the rendered suites to `expectations/<feed>.json` for review; they are not
committed and nothing reads them.

The suite validates the *checked frame* of one delivery (`jobs.silver.records`):
normalised candidate values and their `<alias>__status` validity flags.

* required columns: `<alias>__status` not null (present);
* every typed column: `<alias>__status` in {ok} (plus check_digit where a
  check-digit failure only flags the record);
* domain rules on the candidate values: the custom identifier expectations
  (USCC GB 32100, RIC GB 11643, organisation code GB 11714, registration
  number ISO 7064 MOD 11,10, and the mixed party/unit/taxpayer ids), region
  codes (GB/T 2260) and industry codes (GB/T 4754-2017) against the shipped
  reference tables, enums and department codes in their value sets, numeric
  bounds (amounts >= 0);
* the record gate: `_reason_code` null (not quarantined).

`mostly` comes from the feed's thresholds and the delivery's size.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, ClassVar

import great_expectations as gx
from great_expectations.execution_engine import PandasExecutionEngine, SparkDFExecutionEngine
from great_expectations.expectations.expectation import ColumnMapExpectation
from great_expectations.expectations.metrics.map_metric_provider import (
    ColumnMapMetricProvider,
    column_condition_partial,
)

from jobs.silver.quality import FeedQuality, feed_quality
from jobs.silver.records import REASON
from regulake.config import PROJECT_ROOT
from regulake.feeds import Column, FeedSchema, load_all_feeds
from regulake.normalize import (
    CHECK_DIGIT,
    COMPOSITE_KINDS,
    IDENTIFIER_KINDS,
    OK,
    canonical_industry,
    identifier_status,
    identifier_status_col,
    status_column,
    value_bounds,
)
from regulake.reference import department_codes, division_sections, region_codes

SUITES_DIR = PROJECT_ROOT / "expectations"


# --- custom expectations -------------------------------------------------------------------
# Each has a pandas form (the pure-Python rule) and a Spark form (the same rule as a
# column expression, from regulake.normalize), so either GX engine gives the same answer.


def _identifier_metric(kind: str, metric: str) -> type[ColumnMapMetricProvider]:
    class _Metric(ColumnMapMetricProvider):
        condition_metric_name = metric

        @column_condition_partial(engine=PandasExecutionEngine)
        def _pandas(cls, column, **kwargs):
            return column.map(lambda value: identifier_status(kind, str(value)) == OK)

        @column_condition_partial(engine=SparkDFExecutionEngine)
        def _spark(cls, column, **kwargs):
            # isin, not ==: a kind whose status is a constant would make `'ok' == 'ok'`, which Spark warns of.
            return identifier_status_col(kind, column).isin(OK)

    _Metric.__name__ = f"ColumnValues{metric.split('.')[-1].title().replace('_', '')}"
    return _Metric


_IDENTIFIER_METRICS = {kind: f"column_values.regulake_valid_{kind}" for kind in IDENTIFIER_KINDS}
for _kind, _metric in _IDENTIFIER_METRICS.items():
    _identifier_metric(_kind, _metric)


class ExpectColumnValuesToBeValidUscc(ColumnMapExpectation):
    """Values are unified social credit codes (GB 32100-2015) with a correct check character."""

    map_metric: ClassVar[str] = _IDENTIFIER_METRICS["uscc"]
    success_keys: ClassVar[tuple[str, ...]] = ("mostly",)


class ExpectColumnValuesToBeValidRic(ColumnMapExpectation):
    """Values are resident identity card numbers (GB 11643-1999): check character, birth date and place."""

    map_metric: ClassVar[str] = _IDENTIFIER_METRICS["ric"]
    success_keys: ClassVar[tuple[str, ...]] = ("mostly",)


class ExpectColumnValuesToBeValidOrgCode(ColumnMapExpectation):
    """Values are organisation codes (GB 11714) with a correct check character."""

    map_metric: ClassVar[str] = _IDENTIFIER_METRICS["org_code"]
    success_keys: ClassVar[tuple[str, ...]] = ("mostly",)


class ExpectColumnValuesToBeValidRegNo(ColumnMapExpectation):
    """Values are 15-digit registration numbers with an ISO 7064 MOD 11,10 check digit."""

    map_metric: ClassVar[str] = _IDENTIFIER_METRICS["reg_no"]
    success_keys: ClassVar[tuple[str, ...]] = ("mostly",)


class ExpectColumnValuesToBeValidCertNo(ColumnMapExpectation):
    """Values are law-enforcement certificate numbers (region code + department no. + sequence)."""

    map_metric: ClassVar[str] = _IDENTIFIER_METRICS["cert_no"]
    success_keys: ClassVar[tuple[str, ...]] = ("mostly",)


class ExpectColumnValuesToBeValidPartyId(ColumnMapExpectation):
    """Values are a valid USCC, organisation code or RIC (court_dishonest party ids)."""

    map_metric: ClassVar[str] = _IDENTIFIER_METRICS["party_id"]
    success_keys: ClassVar[tuple[str, ...]] = ("mostly",)


class ExpectColumnValuesToBeValidUnitCode(ColumnMapExpectation):
    """Values are a valid USCC or organisation code."""

    map_metric: ClassVar[str] = _IDENTIFIER_METRICS["unit_code"]
    success_keys: ClassVar[tuple[str, ...]] = ("mostly",)


class ExpectColumnValuesToBeValidTaxpayerId(ColumnMapExpectation):
    """Values are a valid USCC or old tax id (region code + organisation code)."""

    map_metric: ClassVar[str] = _IDENTIFIER_METRICS["taxpayer_id"]
    success_keys: ClassVar[tuple[str, ...]] = ("mostly",)


class ColumnValuesRegionCode(ColumnMapMetricProvider):
    condition_metric_name = "column_values.regulake_region_code"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, **kwargs):
        return column.isin(region_codes())

    @column_condition_partial(engine=SparkDFExecutionEngine)
    def _spark(cls, column, **kwargs):
        return column.isin(sorted(region_codes()))


class ExpectColumnValuesToBeValidRegionCode(ColumnMapExpectation):
    """Values are GB/T 2260 region codes of the shipped reference table (regulake/reference/regions.csv)."""

    map_metric: ClassVar[str] = "column_values.regulake_region_code"
    success_keys: ClassVar[tuple[str, ...]] = ("mostly",)


def canonical_industry_codes() -> list[str]:
    """Every canonical GB/T 4754-2017 code: section letter + division (A01 ... T97)."""
    return sorted(section + division for division, section in division_sections().items())


class ColumnValuesIndustryCode(ColumnMapMetricProvider):
    condition_metric_name = "column_values.regulake_industry_code"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, **kwargs):
        return column.map(lambda value: canonical_industry(str(value)) == value)

    @column_condition_partial(engine=SparkDFExecutionEngine)
    def _spark(cls, column, **kwargs):
        return column.isin(canonical_industry_codes())


class ExpectColumnValuesToBeValidIndustryCode(ColumnMapExpectation):
    """Values are canonical GB/T 4754-2017 section + division codes (regulake/reference/industries.csv)."""

    map_metric: ClassVar[str] = "column_values.regulake_industry_code"
    success_keys: ClassVar[tuple[str, ...]] = ("mostly",)


IDENTIFIER_EXPECTATIONS: dict[str, type[ColumnMapExpectation]] = {
    "uscc": ExpectColumnValuesToBeValidUscc,
    "ric": ExpectColumnValuesToBeValidRic,
    "org_code": ExpectColumnValuesToBeValidOrgCode,
    "reg_no": ExpectColumnValuesToBeValidRegNo,
    "cert_no": ExpectColumnValuesToBeValidCertNo,
    "party_id": ExpectColumnValuesToBeValidPartyId,
    "unit_code": ExpectColumnValuesToBeValidUnitCode,
    "taxpayer_id": ExpectColumnValuesToBeValidTaxpayerId,
}
assert set(IDENTIFIER_EXPECTATIONS) == set(IDENTIFIER_KINDS) and set(COMPOSITE_KINDS) <= set(IDENTIFIER_KINDS)


# --- suite builder ---------------------------------------------------------------------------


def _check_digit_flags_only(column: Column, quality: FeedQuality) -> bool:
    return column.type in IDENTIFIER_KINDS and column.alias not in quality.strict_check_digit


def _mostly(share: float) -> float:
    # Rounded down: a delivery exactly at its tolerance passes.
    return math.floor(max(0.0, 1.0 - share) * 1_000_000) / 1_000_000


def _meta(column: Column | None, rule: str) -> dict[str, Any]:
    meta = {"rule": rule}
    if column is not None:
        meta["column"] = column.name
    return meta


def column_expectations(column: Column, quality: FeedQuality, rows: int) -> list[gx.expectations.Expectation]:
    """The expectations of one schema column for a delivery of `rows` records."""
    e = gx.expectations
    q_mostly = _mostly(quality.quarantine_tolerance(rows))
    f_mostly = _mostly(quality.flagged_tolerance(rows))
    status = status_column(column.alias)
    # Values whose failure quarantines the record are held to the quarantine
    # tolerance; values that are only nulled or flagged to the flagged one.
    lenient = _check_digit_flags_only(column, quality)
    value_mostly = q_mostly if column.required and not lenient else f_mostly
    found: list[gx.expectations.Expectation] = []
    if column.required:
        found.append(e.ExpectColumnValuesToNotBeNull(column=status, mostly=q_mostly,
                                                     meta=_meta(column, "required (missing_required)")))
    if column.type != "text":
        accepted = [OK, CHECK_DIGIT] if lenient else [OK]
        mostly = q_mostly if column.required else f_mostly
        found.append(e.ExpectColumnValuesToBeInSet(column=status, value_set=accepted, mostly=mostly,
                                                   meta=_meta(column, f"valid {column.type}")))
    if column.type in IDENTIFIER_EXPECTATIONS:
        found.append(IDENTIFIER_EXPECTATIONS[column.type](column=column.alias, mostly=value_mostly,
                                                          meta=_meta(column, column.type)))
    elif column.type == "region_code":
        found.append(ExpectColumnValuesToBeValidRegionCode(column=column.alias, mostly=value_mostly,
                                                           meta=_meta(column, "GB/T 2260")))
    elif column.type == "industry_code":
        found.append(ExpectColumnValuesToBeValidIndustryCode(column=column.alias, mostly=value_mostly,
                                                             meta=_meta(column, "GB/T 4754-2017")))
    elif column.type == "enum":
        labels = sorted(set((column.values or {}).values()))
        found.append(e.ExpectColumnValuesToBeInSet(column=column.alias, value_set=labels, mostly=value_mostly,
                                                   meta=_meta(column, "enum label")))
    elif column.type == "dept_code":
        found.append(e.ExpectColumnValuesToBeInSet(column=column.alias, value_set=sorted(department_codes()),
                                                   mostly=value_mostly, meta=_meta(column, "department code")))
    elif column.type in ("int", "number", "amount"):
        low, high = value_bounds(column)
        if low is not None or high is not None:
            found.append(e.ExpectColumnValuesToBeBetween(column=column.alias, min_value=low, max_value=high,
                                                         mostly=value_mostly, meta=_meta(column, "range")))
    return found


def build_suite(schema: FeedSchema, quality: FeedQuality, rows: int,
                volume: tuple[int, str] | None = None) -> gx.ExpectationSuite:
    """The GX suite of a feed for one delivery of `rows` records (rows sets `mostly`).

    `volume` = (minimum records, rule text) for a full delivery that follows another
    full delivery: a snapshot much smaller than the previous one (header only,
    truncated) would end the currency of every record it lacks, so it is held.
    """
    expectations = [gx.expectations.ExpectColumnValuesToBeNull(
        column=REASON, mostly=_mostly(quality.quarantine_tolerance(rows)),
        meta=_meta(None, "records not quarantined"))]
    if volume is not None:
        expectations.append(gx.expectations.ExpectTableRowCountToBeBetween(
            min_value=volume[0], meta=_meta(None, volume[1])))
    for column in schema.columns:
        expectations += column_expectations(column, quality, rows)
    return gx.ExpectationSuite(name=f"{schema.feed_id}.delivery", expectations=expectations,
                               meta={"feed_id": schema.feed_id, "schema": f"schemas/{schema.feed_id}.yaml",
                                     "rows": rows})


NOMINAL_ROWS = 1000  # the delivery size the reviewed suites in expectations/ are rendered for


def render_suite(schema: FeedSchema, quality: FeedQuality) -> dict[str, Any]:
    """The suite as JSON-ready data (ids dropped: they are random)."""
    data = build_suite(schema, quality, NOMINAL_ROWS).to_json_dict()
    data.pop("id", None)
    for expectation in data.get("expectations", []):
        expectation.pop("id", None)
    return data


def suite_path(feed_id: str) -> Path:
    return SUITES_DIR / f"{feed_id}.json"


def write_suites() -> list[Path]:
    """Rewrite expectations/<feed>.json for every feed."""
    written = []
    for feed_id, schema in load_all_feeds().items():
        path = suite_path(feed_id)
        text = json.dumps(render_suite(schema, feed_quality(schema)), ensure_ascii=False, indent=2,
                          sort_keys=True)
        path.write_text(text + "\n", encoding="utf-8")
        written.append(path)
    return written
