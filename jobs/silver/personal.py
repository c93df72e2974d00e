"""Personal data in what the quality gate keeps: masked like the public layer masks it.

A gate failure is stored (`audit.gate_result`: failing expectations and a sample of
failing records), raised in a message and rendered in the Data Docs; none of them may
carry a resident identity card number or a natural person's name. The personal columns
of a feed: every RIC column (`type: ric`), every column that may hold a RIC (`party_id`:
a 自然人 debtor's), and the names of natural persons (NAME_COLUMNS). Their values are
masked as dbt_project/macros/masking.sql masks them: a RIC keeps its first and last 4
characters (4101**********1234), a name its family name (张*).
"""

from __future__ import annotations

import re
from typing import Any

from pyspark.sql import Column as SparkColumn
from pyspark.sql import functions as F

from regulake.feeds import FeedSchema

RIC_TYPES = ("ric", "party_id")
# (feed_id, alias): columns holding the names of natural persons.
NAME_COLUMNS = {("samr_enterprise", "legal_rep_name"), ("court_dishonest", "party_name"), ("personnel", "name")}
# A RIC anywhere in a free text (a detail, an unexpected value of another column).
_RIC_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])([0-9]{4})([0-9]{10})([0-9]{3}[0-9Xx])(?![0-9A-Za-z])")


def personal_columns(schema: FeedSchema) -> dict[str, str]:
    """alias -> "ric" or "name" for the feed's personal-data columns."""
    found = {c.alias: "ric" for c in schema.columns if c.type in RIC_TYPES}
    found.update({c.alias: "name" for c in schema.columns if (schema.feed_id, c.alias) in NAME_COLUMNS})
    return found


def mask_ric(value: str) -> str:
    return "*" * len(value) if len(value) <= 8 else value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_name(value: str) -> str:
    return value[:1] + "*" * max(len(value) - 1, 1)


def mask_value(value: Any, kind: str) -> Any:
    """A personal value masked (its kind: "ric" or "name"); None and non-text values as they are."""
    if not isinstance(value, str) or not value:
        return value
    return mask_name(value) if kind == "name" else mask_ric(value)


def mask_rics_in_text(text: str) -> str:
    """Every RIC-shaped run of characters in a free text masked."""
    return _RIC_IN_TEXT.sub(lambda m: f"{m.group(1)}{'*' * 10}{m.group(3)}", text)


def mask_col(value: SparkColumn, kind: str) -> SparkColumn:
    """`mask_value` as a Spark expression."""
    length = F.char_length(value)
    if kind == "name":
        masked = F.concat(F.substring(value, 1, 1), F.repeat(F.lit("*"), F.greatest(length - 1, F.lit(1))))
    else:
        masked = F.when(length <= 8, F.repeat(F.lit("*"), length)).otherwise(
            F.concat(F.substring(value, 1, 4), F.repeat(F.lit("*"), length - 8), F.substring(value, -4, 4)))
    return F.when(value.isNull() | (value == ""), value).otherwise(masked)


def mask_gx_result(result: dict[str, Any], kind: str) -> dict[str, Any]:
    """A GX expectation result (`result` of an ExpectationValidationResult) with every
    unexpected value masked: lists of values, value counts and index rows."""
    masked: dict[str, Any] = {}
    for key, value in result.items():
        if "unexpected" in key and isinstance(value, list):
            value = [_mask_item(item, kind) for item in value]
        masked[key] = value
    return masked


def _mask_item(item: Any, kind: str) -> Any:
    if isinstance(item, dict):  # {"value": v, "count": n} or an index row {column: v, ...}
        return {k: (v if k == "count" else _mask_item(v, kind)) for k, v in item.items()}
    if isinstance(item, (list, tuple)):
        return [_mask_item(v, kind) for v in item]
    return mask_value(item, kind)
