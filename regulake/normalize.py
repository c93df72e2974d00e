"""Value normalisation of standard §3: one normaliser per value kind, in two forms.

Every kind has a pure-Python form (used by the generator, linking and tests on
single values) and a Spark column-expression form (used by silver and the GX
suites on whole deliveries). The two are written side by side from the same
patterns and constants and `tests/regulake/test_normalize.py` checks that they agree
value for value, so there is one definition of each rule.

A normaliser turns the delivered text into a *candidate* value and a
*status*:

* status None — the value is empty (absent, or blank after trimming);
* ``ok`` — valid; the candidate is the canonical typed value;
* ``invalid`` — present but not a value of the column's kind; the candidate
  is what could be read (a cleaned code, a parsed number out of range) or
  None when nothing could be parsed;
* ``check_digit`` — an identifier of the right shape whose check character
  is wrong; the candidate is the compact identifier.

What a status means for a record (quarantine, null + data-quality flag) is
decided by silver (`jobs.silver`), not here.

Spark forms use SQL functions only, except RIC validation: its birth-place
rule needs python-stdnum's GB/T 2260 history table, so it runs as one Arrow
(pandas) UDF over `regulake.identifiers.is_valid_ric`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache, reduce
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pandas as pd
from pyspark.sql import Column as SparkColumn
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from regulake import identifiers as ids
from regulake.reference import department_codes, division_sections, region_codes

if TYPE_CHECKING:
    from regulake.feeds import Column, FeedSchema

LOCAL_TZ = "Asia/Shanghai"  # standard §3: a timestamp without offset is Shanghai time

OK = "ok"
INVALID = "invalid"
CHECK_DIGIT = "check_digit"
STATUSES = (OK, INVALID, CHECK_DIGIT)

IDENTIFIER_KINDS = ("uscc", "org_code", "reg_no", "ric", "cert_no", "party_id", "unit_code", "taxpayer_id")
# Which identifiers a mixed-kind column may hold (standard §4).
COMPOSITE_KINDS: dict[str, tuple[str, ...]] = {
    "party_id": ("uscc", "org_code", "ric"),  # court_dishonest: 法人 USCC/org code, 自然人 RIC
    "unit_code": ("uscc", "org_code"),
    "taxpayer_id": ("uscc", "tax_id"),
}
CODE_KINDS = ("region_code", "industry_code", "dept_code")

AMOUNT_TYPE = "decimal(24,6)"
AMOUNT_SCALE = Decimal("0.000001")
# Spark reads an amount as decimal(38,10) before scaling; the Python form rounds the same way.
_AMOUNT_READ_SCALE = Decimal("1E-10")
_AMOUNT_MAX = Decimal(10) ** 18  # what decimal(24,6) holds
_UNIT_FACTORS = {("元", "万元"): Decimal(10000), ("元", "万"): Decimal(10000),
                 ("万元", "元"): Decimal("0.0001")}
MIN_YEAR, MAX_YEAR = 1900, 2100  # report/evaluation years and months outside this are typos
_INT64 = 2**63

# --- shared patterns (plain characters, no \d/\s/\v: Java and Python must read them alike) ---

_FULLWIDTH_SRC = "".join(chr(c) for c in range(0xFF01, 0xFF5F)) + "\u3000"
_FULLWIDTH_DST = "".join(chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)) + " "
_INNER_SPACES = "[ \t\u00a0]+"
_EDGE_SPACES = "^[ \t\r\n\f\x0b\u00a0]+|[ \t\r\n\f\x0b\u00a0]+$"
# Python's str `\s` (what identifiers.compact_identifier strips), spelled out for Java.
_ID_SEPARATORS = "[ \t\n\r\f\x0b\x1c-\x1f\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000_-]"
_LIST_SEPARATORS = "[;；、]"

_USCC_SHAPE = "^[0-9]{8}[0-9ABCDEFGHJKLMNPQRTUWXY]{10}$"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_SHAPE = "^[0-9A-Z]{8}[0-9X]$"
_ORG_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
# Standard §2: an old tax id (15 to 20 characters, not 18) is accepted as it is (no check character).
_TAX_ID_SHAPE = "^([0-9A-Z]{15,17}|[0-9A-Z]{19,20})$"
_REG_NO_SHAPE = "^[0-9]{15}$"
_RIC_SHAPE = "^[0-9]{17}[0-9X]$"
_CERT_SHAPE = "^[0-9]{14}$"

_YEAR = "([1-9][0-9]{3})"
# Every listed date form is first rewritten to Y-M-D (one regexp_replace per form, anchored at
# the start, so a timestamp's time part is untouched), then read with one pattern. The
# backreference keeps YYYY-MM/DD out: the separators must agree.
DATE_REWRITES = (
    (f"^{_YEAR}年([0-9]{{1,2}})月([0-9]{{1,2}})日", "$1-$2-$3"),
    (f"^{_YEAR}([0-9]{{2}})([0-9]{{2}})(?![0-9])", "$1-$2-$3"),
    (f"^{_YEAR}([-/.])([0-9]{{1,2}})\\2([0-9]{{1,2}})(?![0-9])", "$1-$3-$4"),
)
DATE_PATTERN = f"^{_YEAR}-([0-9]{{1,2}})-([0-9]{{1,2}})$"
# Groups after the date's three: hour, minute, second, fraction, offset. A date alone
# is midnight (XLSX cells holding a midnight datetime are landed as a bare date).
_TIME = "(?:[ T]([01]?[0-9]|2[0-3]):([0-5][0-9])(?::([0-5][0-9])(\\.[0-9]{1,6})?)?(Z|[+-](?:0[0-9]|1[0-4]):?[0-5][0-9])?)?"
TIMESTAMP_PATTERN = f"^{_YEAR}-([0-9]{{1,2}})-([0-9]{{1,2}}){_TIME}$"
YEAR_PATTERN = "^([0-9]{4})年?$"
MONTH_PATTERNS = (
    "^([0-9]{4})[-/.]([0-9]{1,2})$",
    "^([0-9]{4})([0-9]{2})$",
    "^([0-9]{4})年([0-9]{1,2})月$",
)
INT_PATTERN = "^([+-]?[0-9]+)(?:\\.0*)?$"
NUMBER_PATTERN = "^[+-]?(?:[0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?$"
AMOUNT_PATTERN = "^([+-]?(?:[0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)(?:[eE][+-]?[0-9]{1,2})?) ?(万元|万|元)?$"
INDUSTRY_PATTERN = "^([A-T]?)([0-9]{2})([0-9]{2})?$"
BOOLEANS = {"是": True, "否": False, "y": True, "n": False, "1": True, "0": False,
            "true": True, "false": False}


@dataclass(frozen=True)
class Normalised:
    """A normalised value: the candidate and its status (None = empty)."""

    value: Any
    status: str | None

    @property
    def final(self) -> Any:
        """The value silver keeps: the candidate when valid (or only its check digit fails)."""
        return self.value if self.status in (OK, CHECK_DIGIT) else None


# =============================================================================================
# Pure-Python forms
# =============================================================================================


def clean_text(raw: Any) -> str | None:
    """Text: full-width to half-width, collapse runs of spaces, trim; None when empty."""
    if raw is None:
        return None
    text = str(raw).translate(_FULLWIDTH_TABLE)
    text = re.sub(_EDGE_SPACES, "", re.sub(_INNER_SPACES, " ", text))
    return text or None


_FULLWIDTH_TABLE = str.maketrans(_FULLWIDTH_SRC, _FULLWIDTH_DST)


def compact_code(raw: Any) -> str | None:
    """Identifiers and codes: half-width, upper-case, without spaces, hyphens or underscores."""
    return ids.compact_identifier(raw)


def _uscc_status(code: str) -> str:
    if not re.search(_USCC_SHAPE, code):
        return INVALID
    return OK if ids.uscc_check_char(code[:17]) == code[17] else CHECK_DIGIT


def _org_status(code: str) -> str:
    if not re.search(_ORG_SHAPE, code):
        return INVALID
    return OK if ids.org_code_check_char(code[:8]) == code[8] else CHECK_DIGIT


def _tax_id_status(code: str) -> str:
    return OK if re.search(_TAX_ID_SHAPE, code) else INVALID


def _reg_no_status(code: str) -> str:
    if not re.search(_REG_NO_SHAPE, code):
        return INVALID
    return OK if ids.reg_no_check_digit(code[:14]) == code[14] else CHECK_DIGIT


def ric_status(code: str) -> str:
    """RIC: shape, then check character, then birth date and place (python-stdnum)."""
    if not re.search(_RIC_SHAPE, code):
        return INVALID
    if ids.ric_check_char(code[:17]) != code[17]:
        return CHECK_DIGIT
    return OK if ids.is_valid_ric(code) else INVALID


def _cert_no_status(code: str) -> str:
    return OK if re.search(_CERT_SHAPE, code) and 1 <= int(code[6:8]) <= 11 else INVALID


_SIMPLE_ID_STATUS = {
    "uscc": _uscc_status, "org_code": _org_status, "tax_id": _tax_id_status,
    "reg_no": _reg_no_status, "ric": ric_status, "cert_no": _cert_no_status,
}


def identifier_status(kind: str, code: str | None) -> str | None:
    """Status of a compact identifier of `kind` (one of IDENTIFIER_KINDS or tax_id)."""
    if code is None:
        return None
    if kind in COMPOSITE_KINDS:
        found = {_SIMPLE_ID_STATUS[k](code) for k in COMPOSITE_KINDS[kind]}
        return OK if OK in found else CHECK_DIGIT if CHECK_DIGIT in found else INVALID
    return _SIMPLE_ID_STATUS[kind](code)


def canonical_industry(code: str | None) -> str | None:
    """GB/T 4754-2017 section + division (C13, 13, C1311, 1311 -> C13); None when not a code."""
    if code is None:
        return None
    match = re.search(INDUSTRY_PATTERN, code)
    if not match:
        return None
    section = division_sections().get(match.group(2))
    if section is None or match.group(1) not in ("", section):
        return None
    return section + match.group(2)


def _first_match(patterns: Sequence[str], text: str) -> re.Match | None:
    for pattern in patterns:
        match = re.search(pattern, text)
        if match:
            return match
    return None


def _java_replacement(replacement: str) -> str:
    return re.sub(r"\$([0-9])", r"\\g<\1>", replacement)


def canonical_date_prefix(text: str) -> str:
    """The text with a leading date in any listed form rewritten to Y-M-D."""
    for pattern, replacement in DATE_REWRITES:
        text = re.sub(pattern, _java_replacement(replacement), text, count=1)
    return text


def parse_date(text: str | None) -> date | None:
    """The listed date forms (YYYY-MM-DD, YYYY/MM/DD, YYYY.MM.DD, YYYYMMDD, YYYY年M月D日)."""
    match = re.search(DATE_PATTERN, canonical_date_prefix(text)) if text else None
    if not match:
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def _offset(text: str | None) -> timezone | ZoneInfo:
    if text is None:
        return ZoneInfo(LOCAL_TZ)
    if text == "Z":
        return UTC
    digits = text[1:].replace(":", "")
    delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return timezone(-delta if text[0] == "-" else delta)


def parse_timestamp(text: str | None) -> datetime | None:
    """The listed timestamp forms (and a bare date = midnight), aware; no offset = Asia/Shanghai."""
    match = re.search(TIMESTAMP_PATTERN, canonical_date_prefix(text)) if text else None
    if not match:
        return None
    y, mo, d, h, mi, s, frac, off = match.groups()
    micros = int((frac[1:] + "000000")[:6]) if frac else 0
    try:
        return datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0), micros,
                        tzinfo=_offset(off))
    except ValueError:
        return None


def parse_year(text: str | None) -> int | None:
    match = re.search(YEAR_PATTERN, text) if text else None
    year = int(match.group(1)) if match else None
    return year if year is not None and MIN_YEAR <= year <= MAX_YEAR else None


def parse_month(text: str | None) -> str | None:
    """YYYY-MM (from YYYY-MM, YYYYMM, YYYY/M, YYYY年M月)."""
    match = _first_match(MONTH_PATTERNS, text) if text else None
    if not match:
        return None
    year, month = int(match.group(1)), int(match.group(2))
    if not (MIN_YEAR <= year <= MAX_YEAR and 1 <= month <= 12):
        return None
    return f"{year:04d}-{month:02d}"


def parse_int(text: str | None) -> int | None:
    match = re.search(INT_PATTERN, text) if text else None
    value = int(match.group(1)) if match else None
    return value if value is not None and -_INT64 <= value < _INT64 else None


def parse_number(text: str | None) -> float | None:
    if not text or not re.search(NUMBER_PATTERN, text):
        return None
    value = float(text)
    return value if abs(value) != float("inf") else None


def parse_amount(text: str | None, unit: str) -> Decimal | None:
    """Amount in the column's unit: thousands separators dropped, 元/万/万元 suffix converted."""
    match = re.search(AMOUNT_PATTERN, text.replace(",", "")) if text else None
    if not match:
        return None
    try:
        number = Decimal(match.group(1)).quantize(_AMOUNT_READ_SCALE, ROUND_HALF_UP)
    except InvalidOperation:
        return None
    factor = _UNIT_FACTORS.get((unit, match.group(2) or unit), Decimal(1))
    if factor < 1:
        # Spark keeps 9 decimals of the product before the final cast: round the same way.
        value = (number * factor).quantize(Decimal("1E-9"), ROUND_HALF_UP)
    else:
        value = number * factor
    value = value.quantize(AMOUNT_SCALE, ROUND_HALF_UP)
    return value if abs(value) < _AMOUNT_MAX else None


def parse_boolean(text: str | None) -> bool | None:
    return BOOLEANS.get(text.lower()) if text else None


def enum_lookup(values: Mapping[str, str]) -> dict[str, str]:
    """Lower-cased code or label -> canonical label."""
    lookup: dict[str, str] = {}
    for code, label in values.items():
        lookup.setdefault(label.lower(), label)
        lookup.setdefault(code.lower(), label)
    return lookup


def canonical_enum(text: str | None, values: Mapping[str, str]) -> str | None:
    return enum_lookup(values).get(text.lower()) if text else None


def split_list(text: str | None) -> list[str] | None:
    """Items of a list (JSON array, or separated by ; ； 、), cleaned, empties dropped."""
    if not text:
        return None
    items: list[Any] | None = None
    if text.startswith("[") and text.endswith("]"):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, list):
            items = [v if isinstance(v, str) else None if v is None else json.dumps(v, ensure_ascii=False)
                     for v in parsed]
    if items is None:
        items = re.split(_LIST_SEPARATORS, text)
    cleaned = [clean_text(item) for item in items]
    result = [item for item in cleaned if item is not None]
    return result or None


def _list_item(column: Column, item: str) -> tuple[str, str]:
    if column.item_type in IDENTIFIER_KINDS:
        code = compact_code(item) or item
        return code, identifier_status(column.item_type, code) or INVALID
    if column.item_type in CODE_KINDS or column.item_type == "text" or column.item_type is None:
        if column.values:
            label = enum_lookup({v: v for v in column.values}).get(item.lower())
            return (label, OK) if label is not None else (item, INVALID)
        if column.item_type in CODE_KINDS:
            value = normalize_value(column.__class__(name="item", alias="item", required=False,
                                                     type=column.item_type), item)
            return value.value, value.status or INVALID
        return item, OK
    raise ValueError(f"list items of type {column.item_type!r} are not supported")


def normalize_value(column: Column, raw: Any) -> Normalised:
    """Normalise one delivered value of `column` (pure-Python form of `normalize_column`)."""
    kind = column.type
    text = clean_text(raw)
    if text is None:
        return Normalised(None, None)
    if kind == "text":
        return Normalised(text, OK)
    if kind in IDENTIFIER_KINDS:
        code = compact_code(text)
        return Normalised(code, identifier_status(kind, code))
    if kind == "region_code":
        code = compact_code(text)
        return Normalised(code, OK if code in region_codes() else INVALID)
    if kind == "dept_code":
        code = compact_code(text)
        return Normalised(code, OK if code in department_codes() else INVALID)
    if kind == "industry_code":
        code = compact_code(text)
        canonical = canonical_industry(code)
        return Normalised(canonical, OK) if canonical else Normalised(code, INVALID)
    if kind == "enum":
        label = canonical_enum(text, column.values or {})
        return Normalised(label, OK) if label else Normalised(text, INVALID)
    if kind == "list":
        items = split_list(text)
        if items is None:
            return Normalised(None, None)
        checked = [_list_item(column, item) for item in items]
        status = OK if all(s == OK for _, s in checked) else INVALID
        return Normalised([v for v, _ in checked], status)
    parsers = {"date": parse_date, "timestamp": parse_timestamp, "year": parse_year,
               "month": parse_month, "int": parse_int, "number": parse_number,
               "boolean": parse_boolean}
    if kind == "amount":
        value = parse_amount(text, column.unit or "元")
    elif kind in parsers:
        value = parsers[kind](text)
    else:
        raise ValueError(f"unknown column type {kind!r}")
    if value is None:
        return Normalised(None, INVALID)
    return Normalised(value, OK if _in_range(column, value) else INVALID)


def value_bounds(column: Column) -> tuple[float | None, float | None]:
    """(min, max) a numeric value must lie in: the schema's, plus amounts and counts >= 0."""
    low = column.min
    if column.type == "amount":
        low = 0.0 if low is None else max(low, 0.0)  # standard §3: negative amounts are invalid
    elif column.type == "int" and low is None:
        low = 0.0  # every int column of the standard is a count (employees, months, heat ...)
    return low, column.max


def _in_range(column: Column, value: Any) -> bool:
    if column.type not in ("int", "number", "amount"):
        return True
    low, high = value_bounds(column)
    return (low is None or value >= Decimal(str(low))) and (high is None or value <= Decimal(str(high)))


def key_part_text(column: Column, value: Any) -> str | None:
    """A business-key part as text for `_record_key` (standard §5: normalised form)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(ZoneInfo(LOCAL_TZ)).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(value)
    return str(value)


def record_key(columns: Sequence[Column], raw_values: Sequence[Any]) -> str | None:
    """The normalised business key joined with `|`; None when a part is empty or invalid."""
    parts = []
    for column, raw in zip(columns, raw_values, strict=True):
        value = normalize_value(column, raw)
        if value.final is None:
            return None
        parts.append(key_part_text(column, value.final))
    return "|".join(parts)


# =============================================================================================
# Spark column-expression forms
# =============================================================================================


def clean_text_col(raw: SparkColumn) -> SparkColumn:
    """Spark form of `clean_text`."""
    text = F.translate(raw.cast("string"), _FULLWIDTH_SRC, _FULLWIDTH_DST)
    text = F.regexp_replace(F.regexp_replace(text, _INNER_SPACES, " "), _EDGE_SPACES, "")
    return F.when(text != "", text)


def compact_code_col(raw: SparkColumn) -> SparkColumn:
    """Spark form of `compact_code`."""
    code = F.upper(F.regexp_replace(F.translate(raw.cast("string"), _FULLWIDTH_SRC, _FULLWIDTH_DST),
                                    _ID_SEPARATORS, ""))
    return F.when(code != "", code)


def _index_in(alphabet: str, char: SparkColumn) -> SparkColumn:
    return F.instr(F.lit(alphabet), char) - 1


def _status(code: SparkColumn, shape: SparkColumn, check_ok: SparkColumn) -> SparkColumn:
    return (F.when(code.isNull(), F.lit(None).cast("string"))
            .when(~shape, F.lit(INVALID))
            .when(check_ok, F.lit(OK))
            .otherwise(F.lit(CHECK_DIGIT)))


def _weighted_sum(code: SparkColumn, alphabet: str, weights: Sequence[int]) -> SparkColumn:
    """Sum of alphabet index x weight over the leading characters.

    A higher-order function rather than an unrolled sum: the unrolled form made
    the generated code of a whole delivery's projection exceed the JVM's 64 KB.
    """
    weight_array = F.array(*[F.lit(w) for w in weights])
    return F.aggregate(
        F.sequence(F.lit(1), F.lit(len(weights))), F.lit(0),
        lambda total, i: total + _index_in(alphabet, F.substring(code, i, 1)) * F.element_at(
            weight_array, i),
    )


def _uscc_status_col(code: SparkColumn) -> SparkColumn:
    total = _weighted_sum(code, ids.USCC_ALPHABET, _USCC_WEIGHTS)
    expected = F.substring(F.lit(ids.USCC_ALPHABET), (31 - total % 31) % 31 + 1, 1)
    return _status(code, code.rlike(_USCC_SHAPE), expected == F.substring(code, 18, 1))


def _org_check_char_col(code: SparkColumn) -> SparkColumn:
    total = _weighted_sum(code, _ORG_ALPHABET, _ORG_WEIGHTS)
    check = 11 - total % 11
    return F.when(check == 10, "X").when(check == 11, "0").otherwise(check.cast("string"))


def _org_status_col(code: SparkColumn) -> SparkColumn:
    ok = _org_check_char_col(code) == F.substring(code, 9, 1)
    return _status(code, code.rlike(_ORG_SHAPE), ok)


def _tax_id_status_col(code: SparkColumn) -> SparkColumn:
    return _status(code, code.rlike(_TAX_ID_SHAPE), F.lit(True))


def _reg_no_status_col(code: SparkColumn) -> SparkColumn:
    # ISO 7064 MOD 11,10; ((p + d - 1) % 10) + 1 is "(p + d) % 10 or 10" for p + d >= 1.
    product = F.aggregate(
        F.sequence(F.lit(1), F.lit(14)), F.lit(10),
        lambda p, i: (2 * ((p + F.substring(code, i, 1).try_cast("int") - 1) % 10 + 1)) % 11,
    )
    ok = ((11 - product) % 10) == F.substring(code, 15, 1).try_cast("int")
    return _status(code, code.rlike(_REG_NO_SHAPE), ok)


def _cert_no_status_col(code: SparkColumn) -> SparkColumn:
    dept_no = F.substring(code, 7, 2).try_cast("int")
    valid = code.rlike(_CERT_SHAPE) & dept_no.between(1, 11)
    return F.when(code.isNull(), F.lit(None).cast("string")).when(valid, OK).otherwise(INVALID)


@cache
def _ric_status_udf():
    @F.pandas_udf("string")
    def ric_status_udf(codes: pd.Series) -> pd.Series:
        return codes.map(lambda code: None if code is None else ric_status(code))

    return ric_status_udf


def _ric_status_col(code: SparkColumn) -> SparkColumn:
    return _ric_status_udf()(code)


_SIMPLE_ID_STATUS_COL = {
    "uscc": _uscc_status_col, "org_code": _org_status_col, "tax_id": _tax_id_status_col,
    "reg_no": _reg_no_status_col, "ric": _ric_status_col, "cert_no": _cert_no_status_col,
}


def identifier_status_col(kind: str, code: SparkColumn) -> SparkColumn:
    """Spark form of `identifier_status` on a compact identifier column."""
    if kind not in COMPOSITE_KINDS:
        return _SIMPLE_ID_STATUS_COL[kind](code)
    found = F.array(*[_SIMPLE_ID_STATUS_COL[k](code) for k in COMPOSITE_KINDS[kind]])
    return (F.when(code.isNull(), F.lit(None).cast("string"))
            .when(F.array_contains(found, OK), OK)
            .when(F.array_contains(found, CHECK_DIGIT), CHECK_DIGIT)
            .otherwise(INVALID))


def _map_literal(mapping: Mapping[str, Any]) -> SparkColumn:
    return F.create_map(*[F.lit(x) for pair in mapping.items() for x in pair])


def canonical_industry_col(code: SparkColumn) -> SparkColumn:
    """Spark form of `canonical_industry` on a compact code."""
    section = F.try_element_at(_map_literal(division_sections()), F.regexp_extract(code, INDUSTRY_PATTERN, 2))
    given = F.regexp_extract(code, INDUSTRY_PATTERN, 1)
    valid = code.rlike(INDUSTRY_PATTERN) & section.isNotNull() & ((given == "") | (given == section))
    return F.when(valid, F.concat(section, F.regexp_extract(code, INDUSTRY_PATTERN, 2)))


def _extract_first(text: SparkColumn, patterns: Sequence[str], group: int) -> SparkColumn:
    return F.coalesce(*[F.when(text.rlike(p), F.regexp_extract(text, p, group)) for p in patterns])


def canonical_date_prefix_col(text: SparkColumn) -> SparkColumn:
    """Spark form of `canonical_date_prefix`."""
    for pattern, replacement in DATE_REWRITES:
        text = F.regexp_replace(text, pattern, replacement)
    return text


def parse_date_col(text: SparkColumn) -> SparkColumn:
    canonical = canonical_date_prefix_col(text)
    y, m, d = (F.regexp_extract(canonical, DATE_PATTERN, g) for g in (1, 2, 3))
    day = F.try_to_date(F.concat_ws("-", y, F.lpad(m, 2, "0"), F.lpad(d, 2, "0")), "yyyy-MM-dd")
    return F.when(canonical.rlike(DATE_PATTERN), day)


def parse_timestamp_col(text: SparkColumn) -> SparkColumn:
    canonical = canonical_date_prefix_col(text)
    y, mo, d, h, mi, s, frac, off = (F.regexp_extract(canonical, TIMESTAMP_PATTERN, g) for g in range(1, 9))
    seconds = F.concat(F.when(s != "", s).otherwise(F.lit("0")), frac)
    offset = F.when(off == "Z", "+00:00").when(
        off.rlike("^[+-][0-9]{4}$"), F.concat(F.substring(off, 1, 3), F.lit(":"), F.substring(off, 4, 2))
    ).otherwise(off)
    zone = F.when(offset != "", offset).otherwise(F.lit(LOCAL_TZ))
    stamp = F.try_make_timestamp(
        y.try_cast("int"), mo.try_cast("int"), d.try_cast("int"),
        F.when(h != "", h).otherwise(F.lit("0")).try_cast("int"),
        F.when(mi != "", mi).otherwise(F.lit("0")).try_cast("int"),
        seconds.try_cast("decimal(8,6)"), zone,
    )
    return F.when(canonical.rlike(TIMESTAMP_PATTERN), stamp)


def parse_year_col(text: SparkColumn) -> SparkColumn:
    year = F.when(text.rlike(YEAR_PATTERN), F.regexp_extract(text, YEAR_PATTERN, 1).try_cast("int"))
    return F.when(year.between(MIN_YEAR, MAX_YEAR), year)


def parse_month_col(text: SparkColumn) -> SparkColumn:
    year = _extract_first(text, MONTH_PATTERNS, 1).try_cast("int")
    month = _extract_first(text, MONTH_PATTERNS, 2).try_cast("int")
    valid = year.between(MIN_YEAR, MAX_YEAR) & month.between(1, 12)
    return F.when(valid, F.format_string("%04d-%02d", year, month))


def parse_int_col(text: SparkColumn) -> SparkColumn:
    return F.when(text.rlike(INT_PATTERN), F.regexp_extract(text, INT_PATTERN, 1).try_cast("bigint"))


def parse_number_col(text: SparkColumn) -> SparkColumn:
    value = F.when(text.rlike(NUMBER_PATTERN), text.try_cast("double"))
    return F.when(F.abs(value) != F.lit(float("inf")), value)


def parse_amount_col(text: SparkColumn, unit: str) -> SparkColumn:
    plain = F.regexp_replace(text, ",", "")
    number = F.when(plain.rlike(AMOUNT_PATTERN),
                    F.regexp_extract(plain, AMOUNT_PATTERN, 1).try_cast("decimal(38,10)"))
    suffix = F.regexp_extract(plain, AMOUNT_PATTERN, 2)
    scaled = number
    for (column_unit, written), factor in _UNIT_FACTORS.items():
        if column_unit == unit:
            scaled = F.when(suffix == written, number * F.lit(factor)).otherwise(scaled)
    return scaled.try_cast(AMOUNT_TYPE)


def parse_boolean_col(text: SparkColumn) -> SparkColumn:
    return F.try_element_at(_map_literal(BOOLEANS), F.lower(text))


def canonical_enum_col(text: SparkColumn, values: Mapping[str, str]) -> SparkColumn:
    return F.try_element_at(_map_literal(enum_lookup(values)), F.lower(text))


def split_list_col(text: SparkColumn) -> SparkColumn:
    """Spark form of `split_list`."""
    looks_json = text.startswith("[") & text.endswith("]")
    parsed = F.when(looks_json, F.from_json(text, "array<string>"))
    items = F.coalesce(parsed, F.split(text, _LIST_SEPARATORS))
    cleaned = F.filter(F.transform(items, clean_text_col), lambda item: item.isNotNull())
    return F.when(F.size(cleaned) > 0, cleaned)


def _list_item_col(column: Column, item: SparkColumn) -> tuple[SparkColumn, SparkColumn]:
    if column.item_type in IDENTIFIER_KINDS:
        if column.item_type in ("ric", "party_id"):
            raise ValueError("RIC list items need the Arrow UDF, which cannot run inside an array transform")
        code = F.coalesce(compact_code_col(item), item)
        return code, F.coalesce(identifier_status_col(column.item_type, code), F.lit(INVALID))
    if column.values:
        label = F.try_element_at(_map_literal(enum_lookup({v: v for v in column.values})), F.lower(item))
        return F.coalesce(label, item), F.when(label.isNotNull(), OK).otherwise(INVALID)
    if column.item_type in CODE_KINDS:
        value, status = normalize_column(column.__class__(name="item", alias="item", required=False,
                                                          type=column.item_type), item)
        return value, F.coalesce(status, F.lit(INVALID))
    if column.item_type not in (None, "text"):
        raise ValueError(f"list items of type {column.item_type!r} are not supported")
    return item, F.lit(OK)


def normalize_column(column: Column, text: SparkColumn,
                     code: SparkColumn | None = None) -> tuple[SparkColumn, SparkColumn]:
    """(candidate, status) columns for one schema column (Spark form of `normalize_value`).

    `text` must already be cleaned (`clean_text_col`), and `code` is its
    `compact_code_col` when the column is an identifier or code. Both are best
    passed as references to columns of an earlier projection: the rules read
    them many times, and a reference keeps the plan small (see `normalize_frame`).
    """
    kind = column.type
    if code is None and (kind in IDENTIFIER_KINDS or kind in CODE_KINDS):
        code = compact_code_col(text)

    def parsed(value: SparkColumn, valid: SparkColumn | None = None) -> tuple[SparkColumn, SparkColumn]:
        ok = value.isNotNull() if valid is None else value.isNotNull() & valid
        status = F.when(text.isNull(), F.lit(None).cast("string")).when(ok, OK).otherwise(INVALID)
        return value, status

    if kind == "text":
        return text, F.when(text.isNotNull(), OK)
    if kind in IDENTIFIER_KINDS:
        return code, identifier_status_col(kind, code)
    if kind in ("region_code", "dept_code"):
        known = sorted(region_codes()) if kind == "region_code" else sorted(department_codes())
        return code, F.when(code.isNotNull(), F.when(code.isin(known), OK).otherwise(INVALID))
    if kind == "industry_code":
        canonical = canonical_industry_col(code)
        status = F.when(code.isNotNull(), F.when(canonical.isNotNull(), OK).otherwise(INVALID))
        return F.coalesce(canonical, code), status
    if kind == "enum":
        label = canonical_enum_col(text, column.values or {})
        return F.coalesce(label, text), F.when(text.isNotNull(), F.when(label.isNotNull(), OK).otherwise(INVALID))
    if kind == "list":
        items = split_list_col(text)
        values = F.transform(items, lambda item: _list_item_col(column, item)[0])
        bad = F.exists(items, lambda item: _list_item_col(column, item)[1] != OK)
        return values, F.when(items.isNotNull(), F.when(bad, INVALID).otherwise(OK))
    if kind == "date":
        return parsed(parse_date_col(text))
    if kind == "timestamp":
        return parsed(parse_timestamp_col(text))
    if kind == "year":
        return parsed(parse_year_col(text))
    if kind == "month":
        return parsed(parse_month_col(text))
    if kind == "boolean":
        return parsed(parse_boolean_col(text))
    if kind in ("int", "number", "amount"):
        value = (parse_int_col(text) if kind == "int" else parse_number_col(text) if kind == "number"
                 else parse_amount_col(text, column.unit or "元"))
        low, high = value_bounds(column)
        checks = [F.lit(True)]
        if low is not None:
            checks.append(value >= F.lit(low))
        if high is not None:
            checks.append(value <= F.lit(high))
        return parsed(value, reduce(lambda a, b: a & b, checks))
    raise ValueError(f"unknown column type {kind!r}")


def spark_type(column: Column) -> str:
    """The Spark SQL type of a column's normalised value."""
    return {
        "date": "date", "timestamp": "timestamp", "year": "int", "month": "string", "int": "bigint",
        "number": "double", "amount": AMOUNT_TYPE, "boolean": "boolean", "list": "array<string>",
    }.get(column.type, "string")


def key_part_col(column: Column, value: SparkColumn) -> SparkColumn:
    """Spark form of `key_part_text`."""
    if column.type == "timestamp":
        return F.date_format(value, "yyyy-MM-dd HH:mm:ss")
    if column.type == "list":
        return F.array_join(value, ";")
    return value.cast("string")


def status_column(alias: str) -> str:
    """Name of the status column `normalize_frame` adds beside `<alias>`."""
    return f"{alias}__status"


def needs_code(column: Column) -> bool:
    """Whether a column's rules read its compact code (identifiers and codes)."""
    return column.type in IDENTIFIER_KINDS or column.type in CODE_KINDS


def normalize_frame(bronze: DataFrame, schema: FeedSchema, keep: Sequence[str] = ()) -> DataFrame:
    """Bronze strings -> one candidate column per schema column (named by alias) plus `<alias>__status`.

    `keep` names bronze columns (lineage) carried through unchanged. Three
    projections: cleaned text, compact codes, then candidates and statuses;
    each rule reads its inputs as column references, so the plan stays small
    (Spark does not inline a non-trivial alias that is read more than once).
    """
    kept = [F.col(c) for c in keep]
    cleaned = bronze.select(
        *kept, *[clean_text_col(F.col(f"`{col.name}`")).alias(f"__text_{col.alias}") for col in schema.columns]
    )
    coded = cleaned.select(
        "*", *[compact_code_col(F.col(f"__text_{col.alias}")).alias(f"__code_{col.alias}")
               for col in schema.columns if needs_code(col)]
    )
    outputs = []
    for col in schema.columns:
        code = F.col(f"__code_{col.alias}") if needs_code(col) else None
        value, status = normalize_column(col, F.col(f"__text_{col.alias}"), code)
        outputs.append(value.cast(spark_type(col)).alias(col.alias))
        outputs.append(status.alias(status_column(col.alias)))
    return coded.select(*[F.col(c) for c in keep], *outputs)
