"""Delivery manifests (standard §1) and the identifiers derived from them.

A manifest that cannot be trusted rejects the whole delivery, so parsing is
strict: valid JSON, the right feed, a `YYYYMMDD` batch date, a known mode and
a non-empty list of plain file names with a row count and a SHA-256 each.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

MANIFEST_NAME = "manifest.json"
_BATCH_DATE = re.compile(r"^\d{8}$")
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_FILE_NAME = re.compile(r"^[^/\\]+$")
MODES = ("full", "incremental")


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


def parse_manifest(data: bytes, feed_id: str) -> Manifest:
    """Parse and validate manifest bytes for `feed_id`; ManifestError names the reason."""
    try:
        raw = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ManifestError("manifest_invalid", f"not valid JSON ({error})") from None
    if not isinstance(raw, dict):
        raise ManifestError("manifest_invalid", "not a JSON object")
    named = raw.get("feed_id")
    if named != feed_id:
        raise ManifestError("manifest_feed_mismatch", f"manifest names feed {named!r}, folder is {feed_id!r}")
    batch_date = raw.get("batch_date")
    if not isinstance(batch_date, str) or not _BATCH_DATE.match(batch_date):
        raise ManifestError("manifest_invalid", f"batch_date {batch_date!r} is not YYYYMMDD")
    mode = raw.get("mode")
    if mode not in MODES:
        raise ManifestError("manifest_invalid", f"mode {mode!r} is not one of {MODES}")
    files = raw.get("files")
    if not isinstance(files, list) or not files:
        raise ManifestError("manifest_invalid", "files must be a non-empty list")
    parsed: list[ManifestFile] = []
    for entry in files:
        if not isinstance(entry, dict):
            raise ManifestError("manifest_invalid", f"file entry {entry!r} is not an object")
        name, rows, sha = entry.get("name"), entry.get("rows"), entry.get("sha256")
        if not isinstance(name, str) or not _FILE_NAME.match(name) or name in (".", ".."):
            raise ManifestError("manifest_invalid", f"file name {name!r} is not a plain file name")
        if not isinstance(rows, int) or isinstance(rows, bool) or rows < 0:
            raise ManifestError("manifest_invalid", f"{name}: rows {rows!r} is not a count")
        if not isinstance(sha, str) or not _SHA256.match(sha):
            raise ManifestError("manifest_invalid", f"{name}: sha256 {sha!r} is not 64 hex digits")
        parsed.append(ManifestFile(name, rows, sha.lower()))
    if len({f.name for f in parsed}) != len(parsed):
        raise ManifestError("manifest_invalid", "a file is listed twice")
    produced_at = raw.get("produced_at")
    return Manifest(
        feed_id=feed_id,
        batch_date=batch_date,
        mode=mode,
        files=tuple(parsed),
        produced_at=str(produced_at) if produced_at is not None else None,
    )
