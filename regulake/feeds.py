"""Feed schemas: `schemas/<feed_id>.yaml` loaded into typed, validated objects.

One YAML per feed is the single source of truth for landing (header matching,
required columns), the GX suites (types, enums, units) and dbt sources (aliases).
The loader validates every file against the format fixed in docs/ARCHITECTURE.md
so that a typo in a schema fails loudly at load time, not deep inside a job.

Header matching (standard §1): names are compared after trimming, case-insensitively;
order may vary; unknown columns are kept as extras; a missing required column rejects
the delivery. `match_header` is that rule, used by every reader.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from regulake.config import SCHEMAS_DIR

FORMATS = ("csv", "jsonl", "xlsx")
ENCODINGS = ("utf-8", "utf-8-sig", "gb18030")
MODES = ("full", "incremental")
TYPES = (
    "text", "uscc", "party_id", "unit_code", "taxpayer_id", "org_code", "reg_no", "ric", "cert_no",
    "region_code", "industry_code", "date", "timestamp", "year", "month", "int", "number",
    "amount", "boolean", "enum", "list", "dept_code",
)
UNITS = ("元", "万元")
_ALIAS = re.compile(r"^[a-z][a-z0-9_]*$")
_FEED_ID = re.compile(r"^[a-z][a-z0-9_]*$")


class FeedSchemaError(ValueError):
    """A schema YAML does not follow the format of docs/ARCHITECTURE.md."""


@dataclass(frozen=True)
class Column:
    """One column of a feed, as the standard §4 describes it."""

    name: str  # header name exactly as in the standard
    alias: str  # ASCII snake_case name used from silver on
    required: bool
    type: str
    unit: str | None = None  # amounts only
    # enum: code -> label; list: allowed items (empty tuple = free items)
    values: Mapping[str, str] | tuple[str, ...] | None = None
    item_type: str | None = None  # lists only
    min: float | None = None  # numbers/ints with a range in the standard
    max: float | None = None

    def __hash__(self) -> int:  # values may be a dict: hash by identity of the column
        return hash((self.name, self.alias, self.type))

    @property
    def match_name(self) -> str:
        return normalize_header(self.name)


SOURCE_KINDS = ("jdbc",)


@dataclass(frozen=True)
class SourceSpec:
    """Where a feed is also collected from besides file deliveries: a department database table
    (`source:` in the schema; jobs/collect writes each collection as a standard delivery)."""

    kind: str  # jdbc
    connection: str  # an Airflow connection id: host, database, user and password live there, not here
    table: str  # schema-qualified table (or view) in that database; its columns are the feed's column names
    watermark: str | None  # a timestamp column of the feed: rows with a later value are the increment
    full: bool  # True: every collection is the whole table (mode full), so a key no longer there ends


@dataclass(frozen=True)
class FeedSchema:
    """A feed's schema: delivery format, business key, version column and columns."""

    feed_id: str
    title: str
    department: str
    format: str
    encoding: str
    modes: tuple[str, ...]
    key: tuple[str, ...]
    version_column: str
    columns: tuple[Column, ...]
    _by_match: Mapping[str, Column] = field(default_factory=dict, repr=False, compare=False)
    source: SourceSpec | None = None

    def __hash__(self) -> int:
        return hash((self.feed_id, self.columns))

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_names(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    @property
    def aliases(self) -> dict[str, str]:
        """name -> alias."""
        return {c.name: c.alias for c in self.columns}

    @property
    def file_extension(self) -> str:
        return self.format

    def column(self, name: str) -> Column:
        """The column whose name matches `name` (trimmed, case-insensitive); KeyError otherwise."""
        return self._by_match[normalize_header(name)]


@dataclass(frozen=True)
class HeaderMatch:
    """How a delivered header maps onto a schema.

    positions: schema column name -> index in the delivered header.
    extras: (index, header text as delivered, trimmed) for unknown columns, kept in bronze `_extra`.
    missing_required / missing_optional: schema column names absent from the header.
    """

    positions: dict[str, int]
    extras: list[tuple[int, str]]
    missing_required: list[str]
    missing_optional: list[str]

    @property
    def ok(self) -> bool:
        return not self.missing_required


def normalize_header(text: str) -> str:
    """Standard §1: trim, then compare case-insensitively. A stray BOM counts as whitespace."""
    return str(text).replace("\ufeff", "").strip().casefold()


def match_header(schema: FeedSchema, header: Sequence[Any]) -> HeaderMatch:
    """Map a delivered header row onto the schema's columns (order-free, trimmed, case-insensitive).

    A header cell naming a schema column twice keeps the first occurrence; the
    later one is treated as an extra so nothing delivered is dropped.
    """
    positions: dict[str, int] = {}
    extras: list[tuple[int, str]] = []
    for index, cell in enumerate(header):
        text = "" if cell is None else str(cell)
        column = schema._by_match.get(normalize_header(text))
        if column is not None and column.name not in positions:
            positions[column.name] = index
        else:
            extras.append((index, text.replace("\ufeff", "").strip() or f"_col{index + 1}"))
    missing = [c for c in schema.columns if c.name not in positions]
    return HeaderMatch(
        positions=positions,
        extras=extras,
        missing_required=[c.name for c in missing if c.required],
        missing_optional=[c.name for c in missing if not c.required],
    )


# --- loading ---------------------------------------------------------------------------


def _fail(feed_id: str, message: str) -> FeedSchemaError:
    return FeedSchemaError(f"schemas/{feed_id}.yaml: {message}")


def _parse_column(feed_id: str, raw: Mapping[str, Any]) -> Column:
    allowed = {"name", "alias", "required", "type", "unit", "values", "item_type", "min", "max"}
    unknown = set(raw) - allowed
    if unknown:
        raise _fail(feed_id, f"column {raw.get('name')!r}: unknown keys {sorted(unknown)}")
    name = str(raw.get("name") or "").strip()
    if not name:
        raise _fail(feed_id, "a column has no name")
    alias = str(raw.get("alias") or "")
    if not _ALIAS.match(alias):
        raise _fail(feed_id, f"column {name!r}: alias {alias!r} is not ASCII snake_case")
    if not isinstance(raw.get("required"), bool):
        raise _fail(feed_id, f"column {name!r}: required must be true or false")
    kind = raw.get("type")
    if kind not in TYPES:
        raise _fail(feed_id, f"column {name!r}: unknown type {kind!r}")
    unit = raw.get("unit")
    if (kind == "amount") != (unit is not None) or (unit is not None and unit not in UNITS):
        raise _fail(feed_id, f"column {name!r}: amounts (and only amounts) need a unit in {UNITS}")
    values: Mapping[str, str] | tuple[str, ...] | None = None
    raw_values = raw.get("values")
    if kind == "enum":
        if not isinstance(raw_values, Mapping) or not raw_values:
            raise _fail(feed_id, f"column {name!r}: an enum needs values (code -> label)")
        values = {str(k): str(v) for k, v in raw_values.items()}
    elif kind == "list":
        if raw_values is not None and not isinstance(raw_values, list):
            raise _fail(feed_id, f"column {name!r}: list values must be a list of allowed items")
        values = tuple(str(v) for v in raw_values or ())
    elif raw_values is not None:
        raise _fail(feed_id, f"column {name!r}: values only for enum and list columns")
    item_type = raw.get("item_type")
    if item_type is not None and (kind != "list" or item_type not in TYPES):
        raise _fail(feed_id, f"column {name!r}: item_type only for lists, one of the types")
    for bound in ("min", "max"):
        if raw.get(bound) is not None and kind not in ("int", "number", "amount"):
            raise _fail(feed_id, f"column {name!r}: {bound} only for numeric columns")
    return Column(
        name=name,
        alias=alias,
        required=raw["required"],
        type=kind,
        unit=unit,
        values=values,
        item_type=item_type,
        min=None if raw.get("min") is None else float(raw["min"]),
        max=None if raw.get("max") is None else float(raw["max"]),
    )


def parse_feed(raw: Mapping[str, Any], expected_id: str | None = None) -> FeedSchema:
    """Validate a schema mapping (as read from YAML) and build the FeedSchema."""
    feed_id = str(raw.get("feed_id") or "")
    if not _FEED_ID.match(feed_id):
        raise _fail(expected_id or "?", f"bad feed_id {feed_id!r}")
    if expected_id is not None and feed_id != expected_id:
        raise _fail(expected_id, f"feed_id {feed_id!r} does not match the file name")
    if raw.get("format") not in FORMATS:
        raise _fail(feed_id, f"format must be one of {FORMATS}")
    if raw.get("encoding") not in ENCODINGS:
        raise _fail(feed_id, f"encoding must be one of {ENCODINGS}")
    modes = tuple(raw.get("modes") or ())
    if not modes or any(m not in MODES for m in modes):
        raise _fail(feed_id, f"modes must be a non-empty subset of {MODES}")
    columns = tuple(_parse_column(feed_id, c) for c in raw.get("columns") or ())
    if not columns:
        raise _fail(feed_id, "no columns")
    by_match: dict[str, Column] = {}
    for column in columns:
        if column.match_name in by_match:
            raise _fail(feed_id, f"column {column.name!r} is declared twice")
        by_match[column.match_name] = column
    if len({c.alias for c in columns}) != len(columns):
        raise _fail(feed_id, "aliases are not unique")
    key = tuple(str(k) for k in raw.get("key") or ())
    if not key or any(normalize_header(k) not in by_match for k in key):
        raise _fail(feed_id, f"key {list(key)} must name declared columns")
    if any(not by_match[normalize_header(k)].required for k in key):
        raise _fail(feed_id, "key columns must be required")
    version_column = str(raw.get("version_column") or "")
    if normalize_header(version_column) not in by_match:
        raise _fail(feed_id, f"version_column {version_column!r} is not a declared column")
    source = _parse_source(feed_id, raw.get("source"), by_match, modes, raw["format"])
    return FeedSchema(
        feed_id=feed_id,
        title=str(raw.get("title") or feed_id),
        department=str(raw.get("department") or ""),
        format=raw["format"],
        encoding=raw["encoding"],
        modes=modes,
        key=key,
        version_column=version_column,
        columns=columns,
        _by_match=by_match,
        source=source,
    )


def _parse_source(feed_id: str, raw: Any, by_match: Mapping[str, Column], modes: tuple[str, ...],
                  file_format: str) -> SourceSpec | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise _fail(feed_id, "source must be a mapping (kind, connection, table, watermark, full)")
    unknown = set(raw) - {"kind", "connection", "table", "watermark", "full"}
    if unknown:
        raise _fail(feed_id, f"source: unknown keys {sorted(unknown)}")
    if raw.get("kind") not in SOURCE_KINDS:
        raise _fail(feed_id, f"source: kind must be one of {SOURCE_KINDS}")
    for key in ("connection", "table"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise _fail(feed_id, f"source: {key} is required")
    full = raw.get("full", False)
    if not isinstance(full, bool):
        raise _fail(feed_id, "source: full must be true or false")
    watermark = raw.get("watermark")
    if full and "full" not in modes:
        raise _fail(feed_id, "source: full collections need mode full in modes")
    if not full and (watermark is None or normalize_header(str(watermark)) not in by_match
                     or by_match[normalize_header(str(watermark))].type not in ("timestamp", "date")):
        raise _fail(feed_id, "source: an incremental collection needs watermark, a timestamp or date column")
    if file_format not in ("csv", "jsonl"):
        raise _fail(feed_id, "source: collections are written as csv or jsonl deliveries")
    return SourceSpec(kind=raw["kind"], connection=raw["connection"].strip(), table=raw["table"].strip(),
                      watermark=None if watermark is None else by_match[normalize_header(str(watermark))].name,
                      full=full)


@cache
def _load(path: Path) -> FeedSchema:
    with open(path, encoding="utf-8") as handle:
        raw = yaml.safe_load(handle)
    if not isinstance(raw, Mapping):
        raise _fail(path.stem, "not a YAML mapping")
    return parse_feed(raw, expected_id=path.stem)


def feed_ids(schemas_dir: Path = SCHEMAS_DIR) -> list[str]:
    """Every feed that has a schema, sorted."""
    return sorted(p.stem for p in Path(schemas_dir).glob("*.yaml"))


def load_feed(feed_id: str, schemas_dir: Path = SCHEMAS_DIR) -> FeedSchema:
    """The schema of one feed; KeyError when the feed has no schema file."""
    path = Path(schemas_dir) / f"{feed_id}.yaml"
    if not _FEED_ID.match(feed_id) or not path.is_file():
        raise KeyError(f"no schema for feed {feed_id!r} in {schemas_dir}")
    return _load(path.resolve())


def load_all_feeds(schemas_dir: Path = SCHEMAS_DIR) -> dict[str, FeedSchema]:
    """{feed_id: schema} for every `schemas/*.yaml`."""
    return {feed_id: load_feed(feed_id, schemas_dir) for feed_id in feed_ids(schemas_dir)}
