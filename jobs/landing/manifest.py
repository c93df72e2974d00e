"""Delivery manifests (standard §1) and the identifiers derived from them.

A manifest that cannot be trusted rejects the whole delivery, so parsing is
strict: valid JSON, the right feed, a `YYYYMMDD` batch date that is a calendar
date, a known mode and a non-empty list of plain file names with a row count (a
LongType count) and a SHA-256 each. Hostile input (huge or deeply nested numbers,
NaN, an oversized file) is a `manifest_invalid` rejection, never an exception.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

MANIFEST_NAME = "manifest.json"
_BATCH_DATE = re.compile(r"[0-9]{8}")  # fullmatch: no other digits, no trailing newline
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
# No separators and no control characters (NUL, ESC, line breaks: nothing a file system or a log line
# could read as something else).
_FILE_NAME = re.compile(r"[^/\\\x00-\x1f\x7f-\x9f]+")
MODES = ("full", "incremental")
MAX_ROWS = 2**63 - 1  # delivery_log.manifest_rows is a LongType
_MAX_NUMBER_DIGITS = 32  # longer JSON numbers are no count (and int() refuses > 4300 digits)


class ManifestError(ValueError):
    """The manifest rejects its delivery; `code` is the delivery_log reason code."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class ManifestFile:
    name: str
    rows: int
    sha256: str  # lower-case hex


@dataclass(frozen=True)
class Manifest:
    feed_id: str
    batch_date: str
    mode: str
    files: tuple[ManifestFile, ...]
    produced_at: str | None

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def delivery_id(self) -> str:
        return content_delivery_id(self.feed_id, self.batch_date, ((f.name, f.sha256) for f in self.files))


def _digest(*parts: str) -> str:
    # A unit separator between parts: no part can contain it, so no two inputs collide.
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]


def content_delivery_id(feed_id: str, batch_date: str, files: Iterable[tuple[str, str]]) -> str:
    """Same feed, batch date and checksums -> same id (standard §1's definition of the same delivery)."""
    pairs = sorted(f"{name}:{sha.lower()}" for name, sha in files)
    return _digest("delivery", feed_id, batch_date, *pairs)


def state_delivery_id(kind: str, *parts: str) -> str:
    """Id of a folder *state* (rejected/incomplete): changes when the folder's listing changes."""
    return _digest(kind, *parts)


def batch_day(batch_date: str) -> date | None:
    """The calendar date of a `YYYYMMDD` text, None when it is none (20251399)."""
    if not isinstance(batch_date, str) or not _BATCH_DATE.fullmatch(batch_date):
        return None
    try:
        day = date(int(batch_date[:4]), int(batch_date[4:6]), int(batch_date[6:]))
    except ValueError:
        return None
    return day if day.year >= 1900 else None


def _show(value: object, limit: int = 60) -> str:
    """repr() for a reason text, cut short (a hostile manifest may hold megabytes)."""
    try:
        text = repr(value)
    except (ValueError, RecursionError):  # an int beyond the digit limit, a deeply nested list
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _json_int(text: str) -> int:
    if len(text) > _MAX_NUMBER_DIGITS:
        raise ManifestError("manifest_invalid", f"a number of {len(text)} digits")
    return int(text)


def _json_constant(name: str) -> float:
    raise ManifestError("manifest_invalid", f"not valid JSON ({name} is not a JSON number)")


def parse_manifest(data: bytes, feed_id: str, max_bytes: int | None = None) -> Manifest:
    """Parse and validate manifest bytes for `feed_id`; ManifestError names the reason."""
    if max_bytes is not None and len(data) > max_bytes:
        raise ManifestError("manifest_invalid", f"{MANIFEST_NAME} is larger than {max_bytes} bytes")
    try:
        return _parse_manifest(data, feed_id)
    except RecursionError:
        raise ManifestError("manifest_invalid", "not valid JSON (nested too deeply)") from None
    except ManifestError:
        raise
    except ValueError as error:  # e.g. a float beyond its range in a count
        raise ManifestError("manifest_invalid", f"not valid JSON ({_show(str(error), 120)})") from None


def _parse_manifest(data: bytes, feed_id: str) -> Manifest:
    try:
        raw = json.loads(data.decode("utf-8-sig"), parse_int=_json_int, parse_constant=_json_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ManifestError("manifest_invalid", f"not valid JSON ({_show(str(error), 120)})") from None
    if not isinstance(raw, dict):
        raise ManifestError("manifest_invalid", "not a JSON object")
    named = raw.get("feed_id")
    if named != feed_id:
        raise ManifestError("manifest_feed_mismatch",
                            f"manifest names feed {_show(named)}, folder is {feed_id!r}")
    batch_date = raw.get("batch_date")
    if not isinstance(batch_date, str) or not _BATCH_DATE.fullmatch(batch_date):
        raise ManifestError("manifest_invalid", f"batch_date {_show(batch_date)} is not YYYYMMDD")
    if batch_day(batch_date) is None:
        raise ManifestError("manifest_invalid", f"batch_date {batch_date} is not a calendar date")
    mode = raw.get("mode")
    if mode not in MODES:
        raise ManifestError("manifest_invalid", f"mode {_show(mode)} is not one of {MODES}")
    files = raw.get("files")
    if not isinstance(files, list) or not files:
        raise ManifestError("manifest_invalid", "files must be a non-empty list")
    parsed: list[ManifestFile] = []
    for entry in files:
        if not isinstance(entry, dict):
            raise ManifestError("manifest_invalid", f"file entry {_show(entry)} is not an object")
        name, rows, sha = entry.get("name"), entry.get("rows"), entry.get("sha256")
        if not isinstance(name, str) or not _FILE_NAME.fullmatch(name) or name in (".", ".."):
            raise ManifestError("manifest_invalid", f"file name {_show(name)} is not a plain file name")
        if not isinstance(rows, int) or isinstance(rows, bool) or not 0 <= rows <= MAX_ROWS:
            raise ManifestError("manifest_invalid", f"{_show(name)}: rows {_show(rows)} is not a count")
        if not isinstance(sha, str) or not _SHA256.fullmatch(sha):
            raise ManifestError("manifest_invalid", f"{_show(name)}: sha256 {_show(sha)} is not 64 hex digits")
        parsed.append(ManifestFile(name, rows, sha.lower()))
    if len({f.name for f in parsed}) != len(parsed):
        raise ManifestError("manifest_invalid", "a file is listed twice")
    if sum(f.rows for f in parsed) > MAX_ROWS:
        raise ManifestError("manifest_invalid", "the files' rows add up to more than a count can hold")
    produced_at = raw.get("produced_at")
    if produced_at is not None and not isinstance(produced_at, str):
        produced_at = _show(produced_at, 200)
    return Manifest(
        feed_id=feed_id,
        batch_date=batch_date,
        mode=mode,
        files=tuple(parsed),
        produced_at=produced_at,
    )
