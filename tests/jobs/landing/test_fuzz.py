"""Fuzz tests of the landing reader (issue 18): hostile deliveries land, or are rejected, or have
records quarantined, each with a reason; nothing raises, nothing outside the delivery is opened,
memory stays bounded.

Property-based (Hypothesis) for manifests and records; derandomized, so CI is repeatable.
REGULAKE_FUZZ_EXAMPLES raises the number of examples per property (default 150).
"""

from __future__ import annotations

import csv
import io
import json
import os
import resource
import tempfile
import zipfile
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobs.landing.job import LOADED, REJECTED, Delivery, classify, discover, read_delivery
from jobs.landing.manifest import Manifest, ManifestError, parse_manifest
from jobs.landing.readers import read_csv, read_jsonl, read_xlsx
from regulake import storage
from regulake.feeds import load_feed

from .helpers import PENALTY_HEADER, Collect, penalty_row, write_delivery
from .helpers import read_bytes as _read

pytestmark = pytest.mark.fuzz

PENALTY = load_feed("samr_penalty")
TODAY = date(2025, 3, 1)
FUZZ = settings(max_examples=int(os.environ.get("REGULAKE_FUZZ_EXAMPLES", "150")), deadline=None,
                derandomize=True, suppress_health_check=[HealthCheck.too_slow])
# Text a department's system could put in a field: any character but lone surrogates (not encodable).
FIELD_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
HOSTILE_TEXT = st.one_of(
    FIELD_TEXT,
    st.sampled_from(["=cmd|' /C calc'!A0", "+SUM(1,2)", "-2+3", "@SUM(A1)", "=HYPERLINK(\"http://x\")",
                     "a\x00b", "\"quoted\"", "line\nbreak", "tab\tcell", "\r", "\ufeffbom", "\u202eltr"]),
)
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | FIELD_TEXT,
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(FIELD_TEXT, inner, max_size=4),
                    max_leaves=12)


def _manifest(**override) -> dict:
    body = {"feed_id": "samr_penalty", "batch_date": "20240301", "mode": "incremental",
            "files": [{"name": "part-0001.csv", "rows": 1, "sha256": "ab" * 32}]}
    body.update(override)
    return body


def _plain(name: str) -> bool:
    return (name not in ("", ".", "..") and "/" not in name and "\\" not in name
            and not any(ord(c) < 32 for c in name))


# --- manifests -----------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=2000))
def test_any_bytes_as_a_manifest_parse_or_are_refused_with_a_reason(data):
    try:
        parse_manifest(data, "samr_penalty")
    except ManifestError as refused:
        assert refused.code in ("manifest_invalid", "manifest_feed_mismatch") and refused.detail


@FUZZ
@given(st.dictionaries(st.sampled_from(["feed_id", "batch_date", "mode", "files", "produced_at", "extra"]),
                       JSON, max_size=6),
       st.lists(st.dictionaries(st.sampled_from(["name", "rows", "sha256"]), JSON), max_size=3))
def test_manifests_of_wrong_types_parse_or_are_refused(body, files):
    body = {**_manifest(), **body}
    if files:
        body["files"] = files
    try:
        manifest = parse_manifest(json.dumps(body).encode(), "samr_penalty")
    except ManifestError as refused:
        assert refused.detail and len(str(refused)) < 2000
    else:
        assert isinstance(manifest, Manifest) and manifest.files
        assert all(isinstance(f.rows, int) and 0 <= f.rows < 2 ** 63 for f in manifest.files)


@FUZZ
@given(st.one_of(FIELD_TEXT, st.sampled_from(["../../etc/passwd", "/etc/passwd", "..", ".", "a/../b.csv",
                                              "C:\\windows\\x.csv", "part\x00.csv", "sub/part.csv", "~/x.csv",
                                              "part-0001.csv\n", " ", "\u2215etc\u2215passwd"])))
def test_a_file_name_in_a_manifest_never_leads_outside_the_delivery(name):
    """Whatever a manifest names, landing reads only plain names of files listed in the delivery folder."""
    try:
        manifest = parse_manifest(json.dumps(_manifest(files=[{"name": name, "rows": 1, "sha256": "ab" * 32}]))
                                  .encode(), "samr_penalty")
    except ManifestError as refused:
        assert "file name" in refused.detail or refused.detail
        return
    assert all(_plain(f.name) for f in manifest.files), manifest.files
    with tempfile.TemporaryDirectory() as landing:
        folder = write_delivery(Path(landing), "samr_penalty", "20240301",
                                {"part-0001.csv": (PENALTY_HEADER + "\n" + penalty_row(1) + "\n").encode()},
                                rows={"part-0001.csv": 1},
                                manifest={"files": [{"name": name, "rows": 1, "sha256": "ab" * 32}]})
        decided = _classify_and_read(folder, landing)
        assert decided.status == REJECTED and decided.reason, decided


def _classify_and_read(folder: Path, landing: str) -> Delivery:
    manifest = folder / "manifest.json"
    delivery = Delivery("samr_penalty", folder.name, str(folder), storage.list_files(str(folder)))
    decided = classify(PENALTY, delivery, {}, {}, manifest.read_bytes() if manifest.exists() else None,
                       today=TODAY)
    if decided.status is not None:
        return decided
    with tempfile.TemporaryDirectory() as staging:
        return read_delivery(PENALTY, decided, staging, root=landing)


def test_a_file_larger_than_the_manifest_says_and_an_empty_delivery_are_rejected(tmp_path):
    good = (PENALTY_HEADER + "\n" + penalty_row(1) + "\n").encode()
    landing = tmp_path / "landing"
    grown = write_delivery(landing, "samr_penalty", "20240301", {"part-0001.csv": good}, rows={"part-0001.csv": 1})
    with (grown / "part-0001.csv").open("ab") as appended:  # a record added after the manifest was written
        appended.write((penalty_row(2) + "\n").encode())
    decided = _classify_and_read(grown, str(landing))
    assert decided.status == REJECTED and decided.reason.startswith("sha256_mismatch"), decided.reason
    empty = landing / "samr_penalty" / "20240302"
    empty.mkdir(parents=True)
    decided = _classify_and_read(empty, str(landing))
    assert decided.status is not LOADED and decided.reason, decided
    only_manifest = write_delivery(landing, "samr_penalty", "20240303", {}, manifest={"files": []})
    decided = _classify_and_read(only_manifest, str(landing))
    assert decided.status == REJECTED and "non-empty" in decided.reason, decided.reason


def test_odd_feed_and_batch_folder_names_are_ignored_or_rejected(tmp_path):
    landing = tmp_path / "landing"
    for odd in ("samr_penalty.bak", "SAMR_PENALTY", "..samr", "监管", "samr penalty"):
        (landing / odd / "20240301").mkdir(parents=True)
    assert discover(str(landing)) == []
    row = {"part-0001.csv": (PENALTY_HEADER + "\n" + penalty_row(1) + "\n").encode()}
    for folder in ("2024-03-01", "20240301 ", "batch", "２０２４０３０１", "20240301.old"):
        delivery = write_delivery(landing, "samr_penalty", "20240301", row, rows={"part-0001.csv": 1},
                                  folder=folder)
        decided = _classify_and_read(delivery, str(landing))
        assert decided.status == REJECTED and decided.reason, (folder, decided)


# --- records -------------------------------------------------------------------------------

TEXT_COLUMNS = ("ent_name", "violation_type", "legal_basis", "authority")


@FUZZ
@given(st.lists(st.fixed_dictionaries({c: HOSTILE_TEXT for c in TEXT_COLUMNS}), min_size=1, max_size=8))
def test_csv_records_with_any_text_land_as_written_or_are_quarantined_with_a_reason(rows):
    header = PENALTY_HEADER.split(",")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for n, texts in enumerate(rows, 1):
        values = dict(zip(header, next(csv.reader([penalty_row(n)])), strict=True)) | texts
        writer.writerow([values[c] for c in header])
    result, sink = _read(read_csv, "samr_penalty", out.getvalue().encode("utf-8"))
    assert result.records == len(rows)
    for record_no, _code, detail, _raw in sink.quarantined:
        assert detail, record_no
    names = PENALTY.column_names
    for record_no, values, _extra, _hash in sink.rows:
        written = rows[record_no - 1]
        for column in TEXT_COLUMNS:
            landed = values[names.index(column)]
            assert (landed or "") in (written[column], written[column].strip()), (column, written[column], landed)


@FUZZ
@given(st.binary(max_size=3000))
def test_any_bytes_after_a_valid_csv_header_never_raise(body):
    _read(read_csv, "samr_penalty", PENALTY_HEADER.encode() + b"\n" + body)


@FUZZ
@given(st.lists(st.one_of(st.binary(max_size=200), JSON.map(lambda v: json.dumps(v).encode())), max_size=10))
def test_any_lines_of_a_jsonl_file_never_raise(lines):
    _read(read_jsonl, "coop_task_event", b"\n".join(lines))


def test_mixed_encodings_and_nul_bytes_are_quarantined_with_a_reason():
    gb18030 = penalty_row(2, ent_name="郑州创俊百货").encode("gb18030")  # a GB18030 line in a UTF-8 feed
    nul = penalty_row(3, ent_name="郑州\x00百货").encode()
    data = (PENALTY_HEADER + "\n" + penalty_row(1) + "\n").encode() + gb18030 + b"\n" + nul + b"\n"
    result, sink = _read(read_csv, "samr_penalty", data)
    assert result.records == 3 and result.landed >= 1
    quarantined = {record_no: (code, detail) for record_no, code, detail, _raw in sink.quarantined}
    assert 2 in quarantined and quarantined[2][1], quarantined
    landed = {record_no: values for record_no, values, _e, _h in sink.rows}
    if 3 in landed:  # a NUL may land as text; it must then be exactly what was sent
        assert landed[3][PENALTY.column_names.index("ent_name")] == "郑州\x00百货"
    else:
        assert quarantined[3][1]


# --- XLSX ----------------------------------------------------------------------------------


def _zip_bomb(path: Path, inflated: int) -> None:
    """A workbook-shaped zip whose sheet inflates to `inflated` bytes of spaces (a few hundred KiB on disk)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats'
                                                '.org/package/2006/content-types"/>')
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            block = b" " * (1 << 20)
            for _ in range(inflated >> 20):
                sheet.write(block)


def test_an_xlsx_zip_bomb_is_refused_before_it_is_inflated(tmp_path):
    bomb = tmp_path / "bomb.xlsx"
    _zip_bomb(bomb, 200 << 20)
    assert bomb.stat().st_size < 2 << 20
    personnel = load_feed("personnel")
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(Exception) as refused:
        read_xlsx(bomb.open("rb"), personnel, Collect())
    assert "zip bomb" in str(refused.value), refused.value
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before
    assert grown_kib < 100 << 10, f"reading the bomb grew the process by {grown_kib} KiB"


class _Count:
    """A RecordSink that only counts (the landing stages records to Parquet, never keeps them)."""

    def __init__(self) -> None:
        self.added = self.quarantined = 0

    def add(self, record_no, values, extra, record_hash):
        self.added += 1

    def quarantine(self, record_no, reason_code, reason_detail, raw_record):
        self.quarantined += 1


def _million_row_workbook(path: Path, header: list[str], rows: int) -> None:
    """A minimal XLSX whose one sheet holds `rows` records of two inline-string cells, streamed to disk."""
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("[Content_Types].xml", (
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName='
            '"/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.'
            'main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.'
            'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'))
        archive.writestr("_rels/.rels", (
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
            f'package/2006/relationships"><Relationship Id="rId1" Type="{rel}/officeDocument" '
            'Target="xl/workbook.xml"/></Relationships>'))
        archive.writestr("xl/workbook.xml", (
            f'<?xml version="1.0" encoding="UTF-8"?><workbook {ns} xmlns:r="{rel}"><sheets>'
            '<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'))
        archive.writestr("xl/_rels/workbook.xml.rels", (
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
            f'package/2006/relationships"><Relationship Id="rId1" Type="{rel}/worksheet" '
            'Target="worksheets/sheet1.xml"/></Relationships>'))
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            cells = "".join(f'<c t="inlineStr"><is><t>{name}</t></is></c>' for name in header)
            sheet.write(f'<?xml version="1.0" encoding="UTF-8"?><worksheet {ns}><sheetData><row>{cells}</row>'
                        .encode())
            chunk = []
            for n in range(rows):
                chunk.append(f'<row><c t="inlineStr"><is><t>张{n}</t></is></c><c t="inlineStr"><is><t>'
                             f'{410105199001010000 + n}</t></is></c></row>')
                if len(chunk) == 10_000:
                    sheet.write("".join(chunk).encode())
                    chunk = []
            sheet.write(("".join(chunk) + "</sheetData></worksheet>").encode())


def test_an_xlsx_of_a_million_rows_is_read_in_bounded_memory(tmp_path):
    personnel = load_feed("personnel")
    workbook, rows = tmp_path / "million.xlsx", 1_000_000
    _million_row_workbook(workbook, personnel.column_names, rows)
    sink = _Count()
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with workbook.open("rb") as data:
        result = read_xlsx(data, personnel, sink)
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before
    assert result.parsed and result.records == rows == sink.added + sink.quarantined
    # Rows are streamed (openpyxl read-only, records staged as they come), but each of the two passes
    # (cached values, formulas) keeps an emptied XML element per row, ~90 bytes: ~180 MB at a million
    # rows. A sheet holds at most 1,048,576 rows, so that is also the most any workbook costs.
    assert grown_kib < 256 << 10, f"reading a million rows grew the process by {grown_kib} KiB"
