"""Conformance check of a landing tree against the data exchange standard.

`check_landing(landing)` checks what needs no answers: every delivery folder has a valid
manifest naming its feed and batch, every listed file exists with the manifest's SHA-256 and
record count (CSV records after the header, quoted line breaks included; non-empty JSONL
lines; XLSX rows after the header), file names and encodings are as declared, and headers
hold every required column (matched trimmed and case-insensitively).

With `truth` (a generator's `<out>/truth/`), planted delivery defects must be exactly the
problems found (and are then not reported), and record by record: the truth's record counts
match the files, records the truth calls parse or encoding errors are broken and no others
are, and every identifier the truth says is valid passes its check character while the
planted check-digit and invalid-key records fail theirs.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

from regulake.feeds import FeedSchema
from regulake.identifiers import (
    compact_identifier,
    is_valid_org_code,
    is_valid_reg_no,
    is_valid_ric,
    is_valid_tax_id,
    is_valid_uscc,
)
from synth.generator.specs import FEEDS

_PART = re.compile(r"^part-\d{4}\.(csv|jsonl|xlsx)$")
# Planted delivery defect (truth) -> the problem code the check reports for it.
DEFECT_PROBLEM = {
    "wrong_sha256": "sha256_mismatch", "wrong_row_count": "row_count_mismatch",
    "missing_required_column": "missing_required_column", "missing_manifest": "missing_manifest",
    "missing_file": "missing_file", "manifest_invalid_json": "manifest_invalid_json",
    "manifest_wrong_feed": "manifest_wrong_feed",
}
# The identifier a record is linked by, per feed (the truth's id_kind says which kind it is).
ID_COLUMN = {
    "samr_enterprise": "uscc", "samr_annual_report": "uscc", "samr_abnormal_list": "uscc", "samr_penalty": "uscc",
    "samr_inspection": "uscc", "tax_credit": "纳税人识别号", "hrss_social_insurance": "unit_code",
    "env_penalty": "unit_code", "court_dishonest": "party_id_no", "license": "holder_uscc",
    "coop_task_event": "subject_uscc",
}
_VALID = {"uscc": is_valid_uscc, "org_code": is_valid_org_code, "tax_id": is_valid_tax_id, "ric": is_valid_ric,
          "reg_no": is_valid_reg_no}
_QUARANTINED_SYNTAX = {"parse_error", "encoding_error"}


@dataclass(frozen=True)
class ConformanceProblem:
    feed_id: str
    batch_date: str
    code: str
    detail: str
    file_name: str | None = None
    record_no: int | None = None


@dataclass
class _Parsed:
    """A delivered file read record by record: raw text, fields (None if unparseable)."""

    header: list[str] | None
    records: list[tuple[str, dict | None]]


def check_landing(landing: Path, truth: Path | None = None,
                  feeds: dict[str, FeedSchema] | None = None) -> list[ConformanceProblem]:
    """Problems found in a landing tree ([] = conforming; see the module docstring). `feeds`: the feeds
    the tree may hold (default: the standard's; the center's outbound feeds for an outbox)."""
    landing = Path(landing)
    feeds = FEEDS if feeds is None else feeds
    problems: list[ConformanceProblem] = []
    expected_deliveries, truth_records = _load_truth(truth, landing.name) if truth else ({}, None)
    for feed_dir in sorted(p for p in landing.iterdir() if p.is_dir()):
        feed = feeds.get(feed_dir.name)
        for batch_dir in sorted(p for p in feed_dir.iterdir() if p.is_dir()):
            if feed is None:
                problems.append(ConformanceProblem(feed_dir.name, batch_dir.name, "unknown_feed", "not a feed of the standard"))
                continue
            found, parsed = _check_delivery(feed, batch_dir)
            if truth is not None:
                found = _match_planted(feed.feed_id, batch_dir.name, found, expected_deliveries)
                if truth_records is not None:
                    found += _check_records(feed, batch_dir.name, parsed, truth_records)
            problems += found
    if truth is not None:
        seen = {(p.parent.name, p.name) for p in landing.glob("*/*") if p.is_dir()}
        for (feed_id, batch_date) in expected_deliveries:
            if (feed_id, batch_date) not in seen:
                problems.append(ConformanceProblem(feed_id, batch_date, "delivery_missing", "truth lists it"))
    return problems


def _load_truth(truth: Path, landing_name: str) -> tuple[dict, object]:
    import pandas as pd

    deliveries = pd.read_parquet(Path(truth) / "deliveries.parquet")
    if "landing" in deliveries.columns:
        deliveries = deliveries[deliveries["landing"] == landing_name]
    expected = {(r.feed_id, r.batch_date): (r.expected_status, r.defect) for r in deliveries.itertuples()}
    records = None
    path = Path(truth) / "records.parquet"
    if path.exists():
        records = pd.read_parquet(path, columns=["feed_id", "batch_date", "file_name", "record_no", "entity_id",
                                                 "id_kind", "defect"])
        records = records.drop_duplicates(["feed_id", "batch_date", "file_name", "record_no"])
        records = {key: group for key, group in records.groupby(["feed_id", "batch_date", "file_name"])}
    return expected, records


def _match_planted(feed_id: str, batch_date: str, found: list[ConformanceProblem], expected: dict) -> list:
    status, defect = expected.get((feed_id, batch_date), ("loaded", None))
    want = DEFECT_PROBLEM.get(defect) if isinstance(defect, str) else None
    if want is None:
        return found
    rest = [p for p in found if p.code != want]
    if len(rest) == len(found):
        return found + [ConformanceProblem(feed_id, batch_date, "planted_defect_missing",
                                           f"truth plants {defect} ({status}) but no {want} was found")]
    return rest


def _check_delivery(feed: FeedSchema, folder: Path) -> tuple[list[ConformanceProblem], dict[str, _Parsed]]:
    feed_id, batch = feed.feed_id, folder.name
    problems: list[ConformanceProblem] = []
    parsed: dict[str, _Parsed] = {}

    def add(code: str, detail: str, file_name: str | None = None) -> None:
        problems.append(ConformanceProblem(feed_id, batch, code, detail, file_name))

    if not re.fullmatch(r"\d{8}", batch):
        add("bad_batch_folder", "batch folder is not YYYYMMDD")
    for path in sorted(folder.iterdir()):
        if path.name != "manifest.json" and not _PART.match(path.name):
            add("bad_file_name", f"unexpected file {path.name}", path.name)
        elif path.name != "manifest.json" and not path.name.endswith("." + feed.file_extension):
            add("bad_file_name", f"{path.name} is not .{feed.file_extension}", path.name)
    manifest_path = folder / "manifest.json"
    if not manifest_path.exists():
        add("missing_manifest", "no manifest.json (incomplete delivery)")
        for path in sorted(folder.glob(f"part-*.{feed.file_extension}")):
            parsed[path.name] = _parse_file(feed, path.read_bytes())
        return problems, parsed
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if not isinstance(manifest, dict):
            raise ValueError("not an object")
    except (ValueError, UnicodeDecodeError) as exc:
        add("manifest_invalid_json", f"manifest.json: {exc}")
        return problems, parsed
    if manifest.get("feed_id") != feed_id:
        add("manifest_wrong_feed", f"manifest names {manifest.get('feed_id')!r}")
    if manifest.get("batch_date") != batch:
        add("manifest_batch_date", f"manifest batch_date {manifest.get('batch_date')!r}")
    if manifest.get("mode") not in feed.modes:
        add("manifest_mode", f"mode {manifest.get('mode')!r} not allowed for {feed_id}")
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", str(manifest.get("produced_at", ""))):
        add("manifest_produced_at", f"produced_at {manifest.get('produced_at')!r}")
    entries = manifest.get("files")
    if not isinstance(entries, list) or not entries:
        add("manifest_files", "manifest lists no files")
        return problems, parsed
    listed = set()
    for entry in entries:
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str):
            add("manifest_files", f"bad file entry {entry!r}")
            continue
        listed.add(name)
        path = folder / name
        if not path.exists():
            add("missing_file", f"listed file {name} does not exist", name)
            continue
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != entry.get("sha256"):
            add("sha256_mismatch", f"{name}: SHA-256 differs from the manifest", name)
        file_parsed = _parse_file(feed, data)
        parsed[name] = file_parsed
        if len(file_parsed.records) != entry.get("rows"):
            add("row_count_mismatch", f"{name}: {len(file_parsed.records)} records, manifest says {entry.get('rows')}",
                name)
        problems += [ConformanceProblem(feed_id, batch, code, detail, name)
                     for code, detail in _check_encoding_and_header(feed, data, file_parsed)]
    for path in sorted(folder.glob("part-*")):
        if path.name not in listed:
            add("unlisted_file", f"{path.name} is not in the manifest", path.name)
    return problems, parsed


def _check_encoding_and_header(feed: FeedSchema, data: bytes, parsed: _Parsed) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if feed.format == "csv":
        has_bom = data.startswith(b"\xef\xbb\xbf")
        if feed.encoding == "utf-8-sig" and not has_bom:
            out.append(("encoding", "expected UTF-8 with BOM"))
        if feed.encoding != "utf-8-sig" and has_bom:
            out.append(("encoding", "unexpected BOM"))
        first_line = data.split(b"\n", 1)[0]
        try:
            first_line.decode("gb18030" if feed.encoding == "gb18030" else "utf-8-sig")
        except UnicodeDecodeError:
            out.append(("encoding", f"header does not decode as {feed.encoding}"))
    if feed.format in ("csv", "xlsx"):
        header = [h.strip().lower() for h in (parsed.header or [])]
        missing = [c for c in feed.required_names if c.lower() not in header]
        if missing:
            out.append(("missing_required_column", f"header lacks {', '.join(missing)}"))
    return out


def _parse_file(feed: FeedSchema, data: bytes) -> _Parsed:
    if feed.format == "csv":
        return _parse_csv(feed, data)
    if feed.format == "jsonl":
        records: list[tuple[str, dict | None]] = []
        for line in data.split(b"\n"):
            if not line.strip():
                continue
            text = line.decode("utf-8", errors="replace")
            try:
                value = json.loads(text)
            except ValueError:
                value = None
            records.append((text, value if isinstance(value, dict) else None))
        return _Parsed(None, records)
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    rows = [r for r in book.worksheets[0].iter_rows(values_only=True) if any(v not in (None, "") for v in r)]
    book.close()
    if not rows:
        return _Parsed([], [])
    header = ["" if h is None else str(h) for h in rows[0]]
    keys = [h.strip().lower() for h in header]
    records = [("\t".join("" if v is None else str(v) for v in r),
                {k: ("" if v is None else str(v)) for k, v in zip(keys, r, strict=False)}) for r in rows[1:]]
    return _Parsed(header, records)


def _parse_csv(feed: FeedSchema, data: bytes) -> _Parsed:
    encoding = "gb18030" if feed.encoding == "gb18030" else "utf-8-sig"
    text = data.decode(encoding, errors="replace")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows:
        return _Parsed([], [])
    header = rows[0]
    keys = [h.strip().lower() for h in header]
    try:
        list(csv.reader(io.StringIO(text, newline=""), strict=True))
        broken_last = False
    except csv.Error:
        broken_last = True
    records: list[tuple[str, dict | None]] = []
    for k, row in enumerate(rows[1:]):
        raw = ",".join(row)
        ok = len(row) == len(header) and not (broken_last and k == len(rows) - 2)
        records.append((raw, dict(zip(keys, row, strict=True)) if ok else None))
    return _Parsed(header, records)


def _check_records(feed: FeedSchema, batch: str, parsed: dict[str, _Parsed], truth: dict) -> list[ConformanceProblem]:
    """Record-level agreement between the files and the truth (see module docstring)."""
    problems: list[ConformanceProblem] = []
    id_col = ID_COLUMN.get(feed.feed_id)
    secondary = [c.name.lower() for c in feed.columns if c.type in ("ric", "org_code", "reg_no")
                 and c.name != id_col]
    for name, file_parsed in parsed.items():
        group = truth.get((feed.feed_id, batch, name))

        def add(code: str, detail: str, record_no: int | None = None, _name: str = name,
                _out: list = problems) -> None:
            _out.append(ConformanceProblem(feed.feed_id, batch, code, detail, _name, record_no))

        if group is None:
            if file_parsed.records:
                add("truth_missing", "no truth rows for this file")
            continue
        if len(group) != len(file_parsed.records):
            add("truth_record_count", f"truth has {len(group)} records, file {len(file_parsed.records)}")
            continue
        for row in group.itertuples():
            raw, fields = file_parsed.records[int(row.record_no) - 1]
            defect = row.defect if isinstance(row.defect, str) else None
            bad_bytes = "\ufffd" in raw
            if (defect == "encoding_error") != bad_bytes:
                add("truth_encoding", f"encoding_error in truth: {defect == 'encoding_error'}, in file: {bad_bytes}",
                    row.record_no)
            if (defect == "parse_error") != (fields is None) and not bad_bytes:
                add("truth_parse", f"parse_error in truth: {defect == 'parse_error'}, in file: {fields is None}",
                    row.record_no)
            # A duplicate is an exact copy of a record checked where it first appeared.
            if fields is None or defect in _QUARANTINED_SYNTAX or defect == "duplicate":
                continue
            problems += _check_identifiers(feed, batch, name, row, fields, defect, id_col, secondary)
    return problems


def _check_identifiers(feed: FeedSchema, batch: str, name: str, row, fields: dict, defect: str | None,  # noqa: C901
                       id_col: str | None, secondary: list[str]) -> list[ConformanceProblem]:
    out: list[ConformanceProblem] = []

    def add(code: str, detail: str) -> None:
        out.append(ConformanceProblem(feed.feed_id, batch, code, detail, name, int(row.record_no)))

    kind = row.id_kind if isinstance(row.id_kind, str) else None
    value = compact_identifier(fields.get(id_col.lower())) if id_col else None
    checkable = id_col is not None and kind in _VALID and value is not None
    if defect == "check_digit":
        values = ([value] if checkable else []) + [compact_identifier(fields.get(c)) for c in secondary]
        kinds = ([kind] if checkable else []) + [next(c.type for c in feed.columns if c.name.lower() == s)
                                                 for s in secondary]
        if all(v is None or _VALID[k](v) for v, k in zip(values, kinds, strict=True)):
            add("truth_check_digit", "truth plants a failing check character, all identifiers pass")
        return out
    if defect == "invalid_key":  # the broken part may be the identifier (standard v1.1 §2) or another key part
        if feed.feed_id == "samr_enterprise" and value and is_valid_uscc(value):
            add("truth_invalid_key", f"truth plants an invalid key, {value} is valid")
        return out
    if checkable:
        if not _VALID[kind](value):
            add("identifier_check", f"{id_col} {value!r} ({kind}) fails its check character")
        elif isinstance(row.entity_id, str):
            entity = row.entity_id
            embedded = {"uscc": value, "org_code": "", "tax_id": ""}.get(kind)
            if kind == "org_code":
                embedded = entity if value == entity[8:17] else value
            elif kind == "tax_id":
                embedded = entity if value[6:] == entity[8:17] else value
            elif kind == "ric":
                embedded = entity
            if embedded != entity:
                add("identifier_entity", f"{id_col} {value!r} does not identify {entity}")
    if defect != "optional_invalid":
        for col in secondary:
            v = compact_identifier(fields.get(col))
            ck = next(c.type for c in feed.columns if c.name.lower() == col)
            if v is not None and not _VALID[ck](v):
                add("identifier_check", f"{col} {v!r} ({ck}) fails its check character")
    return out
