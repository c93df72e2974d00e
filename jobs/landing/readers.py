"""Per-format readers: the only format-specific code of landing.

Each reader streams one delivered file, hashes its bytes (SHA-256, checked
against the manifest), counts records exactly as the manifest does (standard
§1) and hands every record to a `RecordSink`: either a row of strings for
bronze or a parse-time quarantine entry (`parse_error`, `encoding_error`).

Decoding happens per record, not per file, so one bad record cannot sink the
file. For CSV that needs record boundaries *before* decoding: they are found
on the raw bytes, which is safe for the declared encodings because `"`, `,`,
CR and LF never occur inside a multi-byte UTF-8 or GB18030 sequence.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, BinaryIO, Protocol

from regulake.feeds import FeedSchema, match_header

BLOCK_SIZE = 1 << 22
# A quoted CSV field that is still open after this many lines (or bytes) is a
# broken quote, not a field: recover instead of swallowing the rest of the file.
MAX_RECORD_LINES = 10_000
MAX_RECORD_BYTES = 16 << 20

PARSE_ERROR = "parse_error"
ENCODING_ERROR = "encoding_error"

_BOMS = {"utf-8": b"\xef\xbb\xbf", "utf-8-sig": b"\xef\xbb\xbf", "gb18030": b"\x84\x31\x95\x33"}
_CODECS = {"utf-8": "utf-8", "utf-8-sig": "utf-8", "gb18030": "gb18030"}
_QUOTE = 0x22


class RecordSink(Protocol):
    """Where a reader puts what it read (bronze rows and quarantine entries)."""

    def add(self, record_no: int, values: list[str | None], extra: dict[str, str] | None,
            record_hash: str) -> None: ...

    def quarantine(self, record_no: int, reason_code: str, reason_detail: str, raw_record: str) -> None: ...


@dataclass
class FileResult:
    """What reading one file found; `records` counts like the manifest's `rows`."""

    sha256: str = ""
    records: int = 0
    landed: int = 0
    quarantined: int = 0
    parsed: bool = True  # False when the header already rejected the file (bytes only hashed)
    missing_required: list[str] = field(default_factory=list)
    extra_columns: list[str] = field(default_factory=list)


class _Lines:
    """Physical lines of a byte stream (without the LF), hashing every byte read."""

    def __init__(self, stream: BinaryIO, block_size: int = BLOCK_SIZE) -> None:
        self._stream = stream
        self._block_size = block_size
        self.sha = hashlib.sha256()

    def __iter__(self) -> Iterator[bytes]:
        rest = b""
        while True:
            block = self._stream.read(self._block_size)
            if not block:
                break
            self.sha.update(block)
            parts = (rest + block).split(b"\n")
            rest = parts.pop()
            yield from parts
        if rest:
            yield rest

    def drain(self) -> None:
        """Hash the rest of the stream without splitting it (the file is rejected anyway)."""
        while block := self._stream.read(self._block_size):
            self.sha.update(block)


def _strip_cr(raw: bytes) -> bytes:
    return raw[:-1] if raw.endswith(b"\r") else raw


def _strip_bom(line: bytes, encoding: str) -> bytes:
    bom = _BOMS.get(encoding)
    return line[len(bom):] if bom and line.startswith(bom) else line


def _raw_text(raw: bytes, codec: str) -> str:
    # Keep undecodable bytes visible and recoverable as \xNN escapes.
    return raw.decode(codec, errors="backslashreplace")


def _decode(raw: bytes, codec: str) -> tuple[str | None, str | None]:
    """(text, None) or (None, reason_detail) for an encoding_error."""
    try:
        text = raw.decode(codec)
    except UnicodeDecodeError as error:
        return None, f"not valid {codec} at byte {error.start}: {error.reason}"
    if "\ufffd" in text:
        return None, f"U+FFFD replacement character at position {text.index(chr(0xFFFD))}"
    return text, None


# --- CSV ---------------------------------------------------------------------------------


def _scan_quotes(line: bytes, in_quotes: bool) -> bool:
    """Quote state at the end of `line` (RFC 4180 as Python's csv module reads it).

    A quote opens a quoted field only at the start of a field; inside one, `""`
    is an escaped quote and `"` closes it. A record continues on the next line
    while a quoted field is open.
    """
    i, n = 0, len(line)
    field_start = not in_quotes
    while i < n:
        if in_quotes:
            j = line.find(b'"', i)
            if j < 0:
                return True
            if j + 1 < n and line[j + 1] == _QUOTE:
                i = j + 2
                continue
            in_quotes, field_start, i = False, False, j + 1
            continue
        if field_start and line[i] == _QUOTE:
            in_quotes, i = True, i + 1
            continue
        j = line.find(b",", i)
        if j < 0:
            return False
        i, field_start = j + 1, True
    return in_quotes


def split_csv_records(
    lines: Iterator[bytes] | list[bytes],
    max_lines: int = MAX_RECORD_LINES,
    max_bytes: int = MAX_RECORD_BYTES,
) -> Iterator[tuple[bytes, bool]]:
    """Group physical lines into CSV records: (raw record bytes, broken quoting?).

    Lines inside a quoted field are joined with LF as delivered. A quoted field
    still open at end of file (or past the limits) is broken quoting: its first
    line becomes one broken record and the lines after it are read again as
    records, which is how the department counted them.
    """
    source = iter(lines)
    pushback: list[bytes] = []  # a stack: lines to read again after a broken quote
    pending: list[bytes] = []
    pending_bytes = 0
    in_quotes = False
    while True:
        line = pushback.pop() if pushback else next(source, None)
        if line is None:
            if not pending:
                return
            yield pending[0], True
            pushback.extend(reversed(pending[1:]))
            pending, pending_bytes, in_quotes = [], 0, False
            continue
        if not pending:
            if b'"' not in line:
                yield line, False  # the fast path: most records are one line without quotes
                continue
            in_quotes = _scan_quotes(line, False)
            if not in_quotes:
                yield line, False
                continue
            pending, pending_bytes = [line], len(line)
            continue
        pending.append(line)
        pending_bytes += len(line) + 1
        if b'"' in line:
            in_quotes = _scan_quotes(line, True)
        if not in_quotes:
            yield b"\n".join(pending), False
            pending, pending_bytes = [], 0
        elif len(pending) > max_lines or pending_bytes > max_bytes:
            yield pending[0], True
            pushback.extend(reversed(pending[1:]))
            pending, pending_bytes, in_quotes = [], 0, False


def _csv_fields(text: str, has_quote: bool) -> list[str]:
    if not has_quote:
        return text.split(",")
    # strict: a quote followed by anything but a delimiter is broken quoting.
    return next(csv.reader([text], strict=True))


def read_csv(stream: BinaryIO, schema: FeedSchema, sink: RecordSink) -> FileResult:
    """Read a CSV file: header row, then records (quoted fields may hold line breaks)."""
    result = FileResult()
    codec = _CODECS[schema.encoding]
    lines = _Lines(stream)
    records = split_csv_records(lines)
    header: list[str] | None = None
    positions: list[tuple[int, int]] = []
    extras: list[tuple[int, str]] = []
    width = 0
    record_no = 0
    for raw, broken in records:
        raw = _strip_cr(raw)
        if header is None:
            raw = _strip_bom(raw, schema.encoding)
            if not raw:
                continue
            text = raw.decode(codec, errors="replace")
            try:
                header = _csv_fields(text, b'"' in raw)
            except csv.Error:
                header = text.split(",")
            match = match_header(schema, header)
            result.missing_required = match.missing_required
            result.extra_columns = [name for _, name in match.extras]
            if not match.ok:
                result.parsed = False
                lines.drain()
                break
            names = schema.column_names
            positions = [(names.index(name), index) for name, index in match.positions.items()]
            extras = match.extras
            width = len(header)
            continue
        if not raw:
            continue  # a blank line is not a record
        record_no += 1
        text, problem = _decode(raw, codec)
        if text is None:
            sink.quarantine(record_no, ENCODING_ERROR, problem, _raw_text(raw, codec))
            result.quarantined += 1
            continue
        if broken:
            sink.quarantine(record_no, PARSE_ERROR, "broken quoting: quoted field never closed", text)
            result.quarantined += 1
            continue
        try:
            fields = _csv_fields(text, b'"' in raw)
        except csv.Error as error:
            sink.quarantine(record_no, PARSE_ERROR, f"broken quoting: {error}", text)
            result.quarantined += 1
            continue
        if len(fields) != width:
            sink.quarantine(record_no, PARSE_ERROR, f"expected {width} fields, found {len(fields)}", text)
            result.quarantined += 1
            continue
        values: list[str | None] = [None] * len(schema.columns)
        for column_index, field_index in positions:
            values[column_index] = fields[field_index]
        extra = {name: fields[index] for index, name in extras} if extras else None
        sink.add(record_no, values, extra, hashlib.sha256(raw).hexdigest())
        result.landed += 1
    result.records = record_no
    result.sha256 = lines.sha.hexdigest()
    return result


# --- JSONL -------------------------------------------------------------------------------


class _Number(str):
    """A JSON number kept as its delivered text (no float rounding in bronze)."""


def _json_text(value: Any) -> str:
    if isinstance(value, _Number):
        return str(value)
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ",".join(_json_text(v) for v in value) + "]"
    return "{" + ",".join(f"{json.dumps(str(k), ensure_ascii=False)}:{_json_text(v)}"
                          for k, v in value.items()) + "}"


_JSON = json.JSONDecoder(parse_int=_Number, parse_float=_Number)  # built once: json.loads(**kw) rebuilds it


def _key_plan(schema: FeedSchema, keys: tuple[str, ...]) -> list[tuple[str, int | None]]:
    """For one layout of JSON keys: (key, column index or None for an extra). First match wins."""
    names = schema.column_names
    plan: list[tuple[str, int | None]] = []
    taken: set[int] = set()
    for key in keys:
        try:
            slot: int | None = names.index(schema.column(key).name)
        except KeyError:
            slot = None
        if slot in taken:
            slot = None  # the same column under another case: kept as an extra, not dropped
        elif slot is not None:
            taken.add(slot)
        plan.append((key, slot))
    return plan


def read_jsonl(stream: BinaryIO, schema: FeedSchema, sink: RecordSink) -> FileResult:
    """Read a JSONL file: every non-empty line is one record, a JSON object."""
    result = FileResult()
    codec = _CODECS[schema.encoding]
    lines = _Lines(stream)
    width = len(schema.columns)
    # Records of one file share a handful of key layouts: resolve each layout once.
    plans: dict[tuple[str, ...], list[tuple[str, int | None]]] = {}
    record_no = 0
    first = True
    raw_decode = _JSON.raw_decode
    for line in lines:
        raw = _strip_cr(line)
        if first:
            raw, first = _strip_bom(raw, schema.encoding), False
        if not raw.strip():
            continue
        record_no += 1
        text, problem = _decode(raw, codec)
        if text is None:
            sink.quarantine(record_no, ENCODING_ERROR, problem, _raw_text(raw, codec))
            result.quarantined += 1
            continue
        try:
            obj, end = raw_decode(text)  # the common case: no surrounding whitespace
            if end != len(text) and text[end:].strip():
                obj = _JSON.decode(text)  # raises "Extra data"
        except json.JSONDecodeError:
            try:
                obj = _JSON.decode(text)  # surrounding whitespace is allowed
            except json.JSONDecodeError as error:
                sink.quarantine(record_no, PARSE_ERROR, f"not valid JSON: {error}", text)
                result.quarantined += 1
                continue
        if not isinstance(obj, dict):
            sink.quarantine(record_no, PARSE_ERROR, f"a JSON {type(obj).__name__}, not an object", text)
            result.quarantined += 1
            continue
        layout = tuple(obj)
        plan = plans.get(layout)
        if plan is None:
            plan = plans[layout] = _key_plan(schema, layout)
        values: list[str | None] = [None] * width
        extra: dict[str, str | None] | None = None
        for key, slot in plan:
            value = obj[key]
            # Strings and numbers (kept as their text, a str subclass) go to bronze as they are.
            if value is not None and value.__class__ is not str and value.__class__ is not _Number:
                value = _json_text(value)
            if slot is not None:
                values[slot] = value
            else:
                if extra is None:
                    extra = {}
                extra[key.strip()] = value
        sink.add(record_no, values, extra, hashlib.sha256(raw).hexdigest())
        result.landed += 1
    result.records = record_no
    result.sha256 = lines.sha.hexdigest()
    # JSONL has no header: a required column is missing when no record of the file carries it.
    if result.landed:
        seen = {slot for plan in plans.values() for _, slot in plan if slot is not None}
        result.missing_required = [c.name for i, c in enumerate(schema.columns) if c.required and i not in seen]
        result.extra_columns = sorted({key.strip() for plan in plans.values() for key, slot in plan
                                       if slot is None})
    return result


# --- XLSX --------------------------------------------------------------------------------


def _cell_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # an identifier typed as a number: 410100, not 410100.0
    if isinstance(value, datetime):
        return value.isoformat(sep=" ") if (value.hour, value.minute, value.second) != (0, 0, 0) \
            else value.date().isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


def read_xlsx(data: BinaryIO, schema: FeedSchema, sink: RecordSink) -> FileResult:
    """Read the first sheet of an XLSX workbook: a header row, then one record per non-empty row."""
    import openpyxl  # only the personnel feed needs it

    result = FileResult()
    sha = hashlib.sha256()
    while block := data.read(BLOCK_SIZE):
        sha.update(block)
    result.sha256 = sha.hexdigest()
    data.seek(0)
    workbook = openpyxl.load_workbook(data, read_only=True, data_only=True)
    try:
        rows = workbook.worksheets[0].iter_rows(values_only=True)
        header: list[str] | None = None
        positions: list[tuple[int, int]] = []
        extras: list[tuple[int, str]] = []
        names = schema.column_names
        record_no = 0
        for row in rows:
            cells = [_cell_text(v) for v in row]
            if all(c is None or c == "" for c in cells):
                continue  # an empty row is not a record
            if header is None:
                while cells and cells[-1] in (None, ""):
                    cells.pop()  # rows are padded to the sheet's width: the header ends at its last name
                header = [c or "" for c in cells]
                match = match_header(schema, header)
                result.missing_required = match.missing_required
                result.extra_columns = [name for _, name in match.extras]
                if not match.ok:
                    result.parsed = False
                    break
                positions = [(names.index(name), index) for name, index in match.positions.items()]
                extras = match.extras
                continue
            record_no += 1
            while cells and cells[-1] is None:
                cells.pop()  # padding, not delivered cells
            raw_text = json.dumps(cells, ensure_ascii=False)
            overflow = [c for c in cells[len(header):] if c not in (None, "")]
            if any("\ufffd" in c for c in cells if c):
                sink.quarantine(record_no, ENCODING_ERROR, "U+FFFD replacement character in a cell", raw_text)
                result.quarantined += 1
                continue
            if overflow:
                sink.quarantine(record_no, PARSE_ERROR,
                                f"expected {len(header)} cells, found {len(header) + len(overflow)}", raw_text)
                result.quarantined += 1
                continue
            cells += [None] * (len(header) - len(cells))  # read-only mode drops trailing empty cells
            values: list[str | None] = [None] * len(names)
            for column_index, cell_index in positions:
                values[column_index] = cells[cell_index]
            extra = {name: cells[index] for index, name in extras if cells[index] is not None} or None
            sink.add(record_no, values, extra, hashlib.sha256(raw_text.encode("utf-8")).hexdigest())
            result.landed += 1
        result.records = record_no
    finally:
        workbook.close()
    return result


READERS = {"csv": read_csv, "jsonl": read_jsonl, "xlsx": read_xlsx}
