"""Batch calendar and vectorised date/time formatting for the generator.

Times are int64 seconds since 1970-01-01 in Asia/Shanghai wall-clock time (naive):
every delivered timestamp is local unless it carries `+08:00`, so no zone maths is needed.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime

import numpy as np

DAY = 86_400


def month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def batch_dates(start: date, batches: int) -> list[date]:
    """`batches` month-ends starting with the month of `start` (the first batch date)."""
    out = []
    year, month = start.year, start.month
    for _ in range(batches):
        out.append(month_end(year, month))
        month += 1
        if month == 13:
            year, month = year + 1, 1
    return out


def to_seconds(day: date, hour: int = 0, minute: int = 0) -> int:
    return int((datetime(day.year, day.month, day.day, hour, minute) - datetime(1970, 1, 1)).total_seconds())


def add_months(day: date, months: int) -> date:
    total = day.year * 12 + day.month - 1 + months
    year, month = divmod(total, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


# --- vectorised formatting ---------------------------------------------------


def iso_seconds(ts: np.ndarray) -> np.ndarray:
    """'YYYY-MM-DDTHH:MM:SS' strings."""
    return np.datetime_as_string(np.asarray(ts, dtype="int64").astype("datetime64[s]"), unit="s")


def fmt_timestamp(ts: np.ndarray, style: str = "std") -> list[str]:
    """Timestamps in one of the standard's forms: std 'YYYY-MM-DD HH:MM:SS', slash 'YYYY/MM/DD HH:MM',
    iso 'YYYY-MM-DDTHH:MM:SS+08:00'."""
    raw = iso_seconds(ts).tolist()
    if style == "std":
        return [s[:10] + " " + s[11:] for s in raw]
    if style == "iso":
        return [s + "+08:00" for s in raw]
    if style == "slash":
        return [s[:16].replace("-", "/").replace("T", " ") for s in raw]
    raise ValueError(style)


def fmt_date(days_or_ts: np.ndarray, style: str = "dash", seconds: bool = False) -> list[str]:
    """Dates (from day numbers, or from seconds when `seconds`) in one of the standard's forms:
    dash YYYY-MM-DD, slash YYYY/MM/DD, dot YYYY.MM.DD, compact YYYYMMDD, cn YYYY年M月D日, cn0 YYYY年MM月DD日."""
    arr = np.asarray(days_or_ts, dtype="int64")
    if seconds:
        arr = arr // DAY
    raw = np.datetime_as_string(arr.astype("datetime64[D]")).tolist()
    if style == "dash":
        return raw
    if style == "slash":
        return [s.replace("-", "/") for s in raw]
    if style == "dot":
        return [s.replace("-", ".") for s in raw]
    if style == "compact":
        return [s.replace("-", "") for s in raw]
    if style == "cn":
        return [f"{s[:4]}年{int(s[5:7])}月{int(s[8:10])}日" for s in raw]
    if style == "cn0":
        return [f"{s[:4]}年{s[5:7]}月{s[8:10]}日" for s in raw]
    raise ValueError(style)


DATE_STYLES = ("dash", "slash", "dot", "compact", "cn", "cn0")
TIMESTAMP_STYLES = ("std", "slash", "iso")


def one_date(day_number: int, style: str) -> str:
    return fmt_date(np.array([day_number]), style)[0]


def one_timestamp(ts: int, style: str) -> str:
    return fmt_timestamp(np.array([ts]), style)[0]


def parse_any_date(text: str) -> int | None:
    """Inverse of fmt_date for the generator's own re-formatting (day number or None)."""
    import re

    m = re.fullmatch(r"(\d{4})[-/.年]?(\d{1,2})[-/.月]?(\d{1,2})日?", text.strip())
    if not m:
        return None
    try:
        d = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None
    return (d - date(1970, 1, 1)).days
