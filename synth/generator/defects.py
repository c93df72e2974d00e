"""Value-level variants (standard §3) and record-level defects (standard §2).

Every function takes one clean value as the department's system would have written it and
returns the varied or broken value; the caller picks which records get one, at the rates
of conf/generator.yaml, and records what it did in the truth.
"""

from __future__ import annotations

import json

import numpy as np

from regulake.feeds import Column, FeedSchema
from regulake.identifiers import USCC_ALPHABET, to_halfwidth

from .specs import FEEDS

SENTINEL = "\ue000"  # replaced by a byte that is invalid in the file's encoding when written
MISSING = None  # JSONL: a value of None may be written as null or the key left out (see writer)

# Enumerations whose code and label differ: the form the department's system writes (its house
# style, "code" or "label"); the other form, from the schema's code -> label values, is a
# variant the pipeline must accept.
ENUM_HOUSE_STYLE: dict[tuple[str, str], str] = {
    ("samr_abnormal_list", "reason"): "code", ("samr_penalty", "severity"): "code",
    ("samr_penalty", "publicity_status"): "code", ("samr_inspection", "result"): "code",
    ("env_penalty", "severity"): "code", ("court_dishonest", "party_type"): "label",
    ("coop_task_event", "event_type"): "code",
}
# Enumerations without codes: the values a bad record may replace with an unknown one.
UNKNOWN_ENUM = {
    "ent_type": ("其他企业", "集体所有制"), "status": ("歇业", "停业", "清算中"), "key_field": ("烟草",),
    "reason": ("05",), "severity": ("4",), "publicity_status": ("3",), "task_type": ("日常检查",),
    "result": ("7", "未发现问题1"), "信用级别": ("待评", "AA", "E"), "party_type": ("3",),
    "performance_status": ("部分未履行",), "channel": ("短信",), "category": ("表扬",), "satisfaction": ("一般",),
    "source": ("今日头条",), "level": ("乡级",), "状态": ("退休",), "event_type": ("sign",),
    "license_type": ("营业执照", "卫生许可证"),
}
UNKNOWN_LIST_ITEM = {"penalty_types": "批评教育", "object_type": "个体户", "method": "日常巡查"}
PARSE_TAILS = ("系统导出", "待核实", "备注", "0", "重复提交")
_FULLWIDTH = {c: chr(ord(c) + 0xFEE0) for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz()"}


def fullwidth(text: str) -> str:
    return "".join(_FULLWIDTH.get(c, c) for c in text)


def identifier_variant(value: str, kind: str) -> str:
    """kind: lowercase | fullwidth | padded."""
    if kind == "lowercase":
        return value.lower()
    if kind == "fullwidth":
        return fullwidth(value)
    return " " * (1 + len(value) % 2) + value + " "


def break_check_char(value: str) -> str:
    """Replace the last character so the check character no longer matches."""
    last = value[-1]
    if value.isdigit() or len(value) in (15,):
        return value[:-1] + str((int(last) + 3) % 10) if last.isdigit() else value[:-1] + "1"
    pool = USCC_ALPHABET if len(value) == 18 else "0123456789X"
    pos = pool.find(last.upper())
    return value[:-1] + pool[(pos + 5) % len(pool)]


def amount_variant(value: float, unit: str, rng: np.random.Generator) -> tuple[str, str]:
    """A value with separators and a unit suffix; returns (text, tag)."""
    r = rng.random()
    if unit == "万元":
        return (f"{value:g}万元" if r < 0.5 else f"{value:g}万"), "amount_suffix"
    if r < 0.5 or value < 100:
        return f"{value:,.2f}元", "amount_separator"
    wan = value / 10_000
    return (f"{wan:g}万" if r < 0.75 else f"{wan:g}万元"), "amount_wan"


def industry_variant(canonical: str, klass: str, rng: np.random.Generator) -> tuple[str, str]:
    r = rng.random()
    if r < 0.4:
        return canonical[1:], "industry_division"
    if r < 0.7:
        return canonical[0] + klass, "industry_class_letter"
    return klass, "industry_class"


def enum_variant(feed: str, column: str, value: str) -> str | None:
    house = ENUM_HOUSE_STYLE.get((feed, column))
    if house is None:
        return None
    mapping = FEEDS[feed].column(column).values
    if house == "code":
        return mapping.get(value)
    back = {v: k for k, v in mapping.items()}
    return back.get(value)


def list_variant(items: list[str], rng: np.random.Generator, jsonl: bool) -> tuple[object, str]:
    if jsonl:
        return "；".join(items), "list_string"
    sep = ("；", "、")[int(rng.integers(0, 2))]
    return sep.join(items), "list_separator"


def boolean_variant(value: str, rng: np.random.Generator) -> str:
    truth = value in ("是", "Y", "1", "true", True)
    forms = (("Y", "N"), ("1", "0"), ("true", "false"))[int(rng.integers(0, 3))]
    return forms[0] if truth else forms[1]


def invalid_for(col: Column, rng: np.random.Generator) -> str | None:
    """An invalid value for a column of this schema type, or None if the type cannot be invalid."""
    col_type = col.type
    if col_type == "date":
        return ("2023-02-30", "2023-13-05", "无", "2024/00/10")[int(rng.integers(0, 4))]
    if col_type == "timestamp":
        return ("2023-13-01 10:00:00", "2023-02-30 25:61:00", "未知")[int(rng.integers(0, 3))]
    if col_type == "enum":
        options = UNKNOWN_ENUM.get(col.name)
        return options[int(rng.integers(0, len(options)))] if options else None
    if col_type == "region_code":
        return ("419925", "510104", "41010")[int(rng.integers(0, 3))]
    if col_type == "industry_code":
        return "Z99"
    if col_type == "list" and col.item_type == "cert_no":
        return "4101;41010001"
    if col_type == "list":
        return UNKNOWN_LIST_ITEM.get(col.name)
    if col_type == "dept_code":
        return ("JY", "NY")[int(rng.integers(0, 2))]
    return None


def optional_invalid_for(col: Column, value: object, rng: np.random.Generator) -> object | None:
    """An invalid value for an optional column (nulled and flagged by the pipeline)."""
    col_type = col.type
    if col_type == "amount":
        return "-" + str(int(rng.integers(1, 900)))
    if col_type == "int":
        return -int(rng.integers(1, 20))
    if col_type == "number":
        return round(1.0 + float(rng.random()), 2)
    if col_type == "ric" and isinstance(value, str) and len(value) == 18:
        return value[:6] + "********" + value[14:]
    if col_type == "boolean":
        return "未知"
    if col_type in ("date", "timestamp", "enum", "region_code"):
        return invalid_for(col, rng)
    return None


def parse_error_csv(row: list[str], feed: FeedSchema, rng: np.random.Generator) -> list[str]:
    """A CSV record with the wrong number of fields (extra tail, a comma inside a name, a lost field)."""
    r = rng.random()
    if r < 0.45:
        return row + [PARSE_TAILS[int(rng.integers(0, len(PARSE_TAILS)))]]
    if r < 0.85:
        texts = [i for i, c in enumerate(feed.columns) if c.type == "text" and len(row[i]) >= 4
                 and not any(ch in row[i] for ch in ',"\n\r')]
        if texts:
            i = texts[int(rng.integers(0, len(texts)))]
            cut = int(rng.integers(2, len(row[i]) - 1))
            return row[:i] + [row[i][:cut], row[i][cut:]] + row[i + 1:]
    return row[:-1]


def parse_error_jsonl(record: dict, rng: np.random.Generator) -> str:
    """A JSONL line that is not a JSON object: a Python repr, a JSON array, or a cut-off line."""
    r = rng.random()
    if r < 0.4:
        return repr(record)
    if r < 0.7:
        return json.dumps(list(record.values()), ensure_ascii=False)
    text = json.dumps(record, ensure_ascii=False)
    return text[: max(10, len(text) // 2)]


def with_sentinel(text: str) -> str:
    """Mark where an undecodable byte goes (after the first character)."""
    return text[:1] + SENTINEL + text[1:] if text else SENTINEL


def normalise_key_part(value: object, col_type: str) -> str | None:
    """A key part in the form gold.entity_xref uses (standard §5); `col_type` is the column's schema type."""
    if value is None:
        return None
    text = to_halfwidth(str(value)).strip()
    if not text:
        return None
    if col_type in ("uscc", "unit_code", "taxpayer_id", "party_id", "ric", "org_code", "reg_no", "cert_no"):
        return "".join(text.split()).replace("-", "").upper()
    if col_type == "month":
        digits = text.replace("-", "").replace("/", "")
        return f"{digits[:4]}-{digits[4:]}" if len(digits) == 6 and digits.isdigit() else text
    return " ".join(text.split())
