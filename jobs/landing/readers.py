"""Per-format readers: the only format-specific code of landing.

Each reader streams one delivered file, hashes its bytes (SHA-256, checked
against the manifest), counts records exactly as the manifest does (standard
§1) and hands every record to a `RecordSink`: either a row of strings for
bronze or a parse-time quarantine entry (`parse_error`, `encoding_error`).

Decoding happens per record, not per file, so one bad record cannot sink the
file. For CSV that needs record boundaries *before* decoding: they are found
on the raw bytes, which is safe for the declared encodings because `"`, `,`,
CR and LF never occur inside a multi-byte UTF-8 or GB18030 sequence.

Limits (conf/landing.yaml) keep time linear and memory bounded whatever a file
holds: a record longer than `max_record_bytes` (a line without a newline, a
quoted field that never closes) is quarantined as `parse_error` with detail
`record_too_long` or `broken quoting`, without holding it in memory. A file
that cannot be read at all (a truncated XLSX) raises `FileUnreadable`, which
rejects its delivery; nothing else in a file's content makes a reader raise.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import tempfile
from collections import deque
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, BinaryIO, Protocol

from jobs.landing.config import LandingLimits, landing_limits
from regulake.feeds import FeedSchema, match_header
from regulake.normalize import CODE_KINDS, IDENTIFIER_KINDS

BLOCK_SIZE = 1 << 22
# A quoted CSV field that is still open after this many lines (or bytes) is a
# broken quote, not a field: recover instead of swallowing the rest of the file.
# (Defaults; a run reads them from conf/landing.yaml.)
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


class FileUnreadable(ValueError):
    """The file's content cannot be read as its format at all (e.g. a truncated XLSX): reject the delivery."""


class LongLine(bytes):
    """A physical line longer than the record limit: its first bytes only, never the whole line.

    `size` is the line's length and `sha256` the digest of all its bytes (CR included).
    """

    size: int
    sha256: str


def _long_line(prefix: bytes, size: int, digest: str) -> LongLine:
    line = LongLine(prefix)
    line.size, line.sha256 = size, digest
    return line


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
    """Physical lines of a byte stream (without the LF), hashing every byte read.

    A line longer than `max_line` bytes comes as a `LongLine` holding its first
    `keep` bytes; the rest of it is hashed and skipped, so memory stays bounded
    (about `max_line` + one block) and time linear however long the line is.
    """

    def __init__(self, stream: BinaryIO, block_size: int = BLOCK_SIZE, max_line: int = MAX_RECORD_BYTES,
                 keep: int = 64 << 10) -> None:
        self._stream = stream
        self._block_size = block_size
        self._max_line = max_line
        self._keep = min(keep, max_line)
        self.sha = hashlib.sha256()

    def __iter__(self) -> Iterator[bytes]:
        rest = b""
        skipping: tuple[bytes, int, Any] | None = None  # a too-long line: (kept prefix, size, its sha256)
        while True:
            block = self._stream.read(self._block_size)
            if not block:
                break
            self.sha.update(block)
            if skipping is not None:
                prefix, size, digest = skipping
                cut = block.find(b"\n")
                if cut < 0:
                    digest.update(block)
                    skipping = (prefix, size + len(block), digest)
                    continue
                digest.update(block[:cut])
                yield _long_line(prefix, size + cut, digest.hexdigest())
                skipping, block = None, block[cut + 1:]
            parts = (rest + block).split(b"\n")
            rest = parts.pop()
            # Only the first part can be longer than a block: it continues the previous rest.
            if parts and len(parts[0]) > self._max_line:
                parts[0] = _long_line(parts[0][: self._keep], len(parts[0]), hashlib.sha256(parts[0]).hexdigest())
            yield from parts
            if len(rest) > self._max_line:
                skipping, rest = (rest[: self._keep], len(rest), hashlib.sha256(rest)), b""
        if skipping is not None:
            prefix, size, digest = skipping
            yield _long_line(prefix, size, digest.hexdigest())
        elif rest:
            yield rest if len(rest) <= self._max_line else _long_line(
                rest[: self._keep], len(rest), hashlib.sha256(rest).hexdigest())

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


class _Open:
    """Lines of a CSV record whose quoted field is still open, with their byte count."""

    __slots__ = ("lines", "total")

    def __init__(self) -> None:
        self.lines: deque[bytes] = deque()
        self.total = 0  # bytes of the lines, without the LFs joining them

    def __bool__(self) -> bool:
        return bool(self.lines)

    def __len__(self) -> int:
        return len(self.lines)

    @property
    def size(self) -> int:
        return self.total + len(self.lines) - 1

    def push(self, line: bytes) -> None:
        self.lines.append(line)
        self.total += len(line)

    def pop(self) -> bytes:
        line = self.lines.popleft()
        self.total -= len(line)
        return line

    def take(self) -> bytes:
        record = b"\n".join(self.lines)
        self.lines.clear()
        self.total = 0
        return record


def _recover(pending: _Open) -> Generator[tuple[bytes, bool], None, None]:
    """A broken quote: its first line is one broken record, the lines after it are records again.

    Every line left in `pending` kept the quote open after the line before it, so
    only the new first line needs reading again: if it opens a quote itself, each
    line after it keeps *that* quote open just the same, and `pending` is that
    record's lines as they stand (no line is re-read, so recovery stays linear).
    """
    yield pending.pop(), True
    while pending:
        head = pending.lines[0]
        if b'"' in head and _scan_quotes(head, False):
            return
        yield pending.pop(), False


def split_csv_records(
    lines: Iterable[bytes],
    max_lines: int = MAX_RECORD_LINES,
    max_bytes: int = MAX_RECORD_BYTES,
) -> Iterator[tuple[bytes, bool]]:
    """Group physical lines into CSV records: (raw record bytes, broken quoting?).

    Lines inside a quoted field are joined with LF as delivered. A quoted field
    still open at end of file (or past the limits) is broken quoting: its first
    line becomes one broken record and the lines after it are read again as
    records, which is how the department counted them. A `LongLine` is a record
    of its own (a record holding it would pass the byte limit anyway).
    """
    pending = _Open()
    for line in lines:
        if not pending:
            if b'"' not in line or line.__class__ is LongLine:
                yield line, False  # the fast path: most records are one line without quotes
                continue
            if not _scan_quotes(line, False):
                yield line, False
                continue
            pending.push(line)
            continue
        if line.__class__ is LongLine:
            while pending:
                yield from _recover(pending)
            yield line, False
            continue
        pending.push(line)
        if b'"' in line and not _scan_quotes(line, True):
            yield pending.take(), False
            continue
        while pending and (len(pending) > max_lines or pending.size > max_bytes):
            yield from _recover(pending)
    while pending:  # end of file inside a quoted field
        yield from _recover(pending)


def _csv_fields(text: str, has_quote: bool) -> list[str]:
    if not has_quote:
        return text.split(",")
    # strict: a quote followed by anything but a delimiter is broken quoting.
    return next(csv.reader([text], strict=True))


def _too_long(line: LongLine, limits: LandingLimits) -> str:
    return (f"record_too_long: {line.size} bytes, more than the {limits.max_record_bytes}-byte limit "
            f"(sha256 {line.sha256}; raw_record holds its first {len(line)} bytes)")


def _lines(stream: BinaryIO, limits: LandingLimits) -> _Lines:
    return _Lines(stream, max_line=limits.max_record_bytes, keep=limits.raw_record_max_bytes)


def read_csv(stream: BinaryIO, schema: FeedSchema, sink: RecordSink,
             limits: LandingLimits | None = None) -> FileResult:
    """Read a CSV file: header row, then records (quoted fields may hold line breaks)."""
    limits = limits or landing_limits()
    result = FileResult()
    codec = _CODECS[schema.encoding]
    lines = _lines(stream, limits)
    records = split_csv_records(lines, limits.max_record_lines, limits.max_record_bytes)
    header: list[str] | None = None
    positions: list[tuple[int, int]] = []
    extras: list[tuple[int, str]] = []
    width = 0
    record_no = 0
    for raw, broken in records:
        if raw.__class__ is LongLine:
            if header is None:  # a header that long names no column: every required one is missing
                header = []
                result.missing_required = list(schema.required_names)
                result.parsed = False
                lines.drain()
                break
            record_no += 1
            sink.quarantine(record_no, PARSE_ERROR, _too_long(raw, limits), _raw_text(bytes(raw), codec))
            result.quarantined += 1
            continue
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


class _NotJson(ValueError):
    """NaN, Infinity and -Infinity: Python's json reads them, JSON (RFC 8259) has no such numbers."""


def _no_constant(name: str) -> Any:
    raise _NotJson(f"{name} is not a JSON number")


# Built once: json.loads(**kw) rebuilds it.
_JSON = json.JSONDecoder(parse_int=_Number, parse_float=_Number, parse_constant=_no_constant)


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


def _unicode_text(values: list[str | None], extra: dict[str, str | None] | None) -> bool:
    """Whether every string is Unicode text: JSON can escape a lone surrogate (\\ud800), which no
    file or table can hold (the Parquet staging would fail on it, and the feed with it)."""
    strings = [v for v in values if v is not None]
    if extra:
        strings += [k for k in extra] + [v for v in extra.values() if v is not None]
    try:
        for value in strings:
            value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _parse_json_line(text: str) -> tuple[Any, str | None]:
    """(object, None), or (None, reason_detail) for a line that is not JSON."""
    try:
        try:
            obj, end = _JSON.raw_decode(text)  # the common case: no surrounding whitespace
            if end != len(text) and text[end:].strip():
                obj = _JSON.decode(text)  # raises "Extra data"
        except json.JSONDecodeError:
            obj = _JSON.decode(text)  # surrounding whitespace is allowed
    except (json.JSONDecodeError, _NotJson) as error:
        return None, f"not valid JSON: {error}"
    except RecursionError:
        return None, "not valid JSON: nested too deeply"
    return obj, None


def read_jsonl(stream: BinaryIO, schema: FeedSchema, sink: RecordSink,
               limits: LandingLimits | None = None) -> FileResult:
    """Read a JSONL file: every non-empty line is one record, a JSON object."""
    limits = limits or landing_limits()
    result = FileResult()
    codec = _CODECS[schema.encoding]
    lines = _lines(stream, limits)
    width = len(schema.columns)
    # Records of one file share a handful of key layouts: resolve each layout once.
    plans: dict[tuple[str, ...], list[tuple[str, int | None]]] = {}
    record_no = 0
    first = True
    raw_decode = _JSON.raw_decode
    for line in lines:
        if line.__class__ is LongLine:
            record_no += 1
            sink.quarantine(record_no, PARSE_ERROR, _too_long(line, limits), _raw_text(bytes(line), codec))
            result.quarantined += 1
            first = False
            continue
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
                raise json.JSONDecodeError("Extra data", text, end)
        except (json.JSONDecodeError, _NotJson, RecursionError):
            obj, problem = _parse_json_line(text)
            if problem is not None:
                sink.quarantine(record_no, PARSE_ERROR, problem, text)
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
        try:
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
        except RecursionError:  # decodable, but nested too deeply to be written back as text
            sink.quarantine(record_no, PARSE_ERROR, "not valid JSON: nested too deeply", text)
            result.quarantined += 1
            continue
        if "\\u" in text and not _unicode_text(values, extra):
            sink.quarantine(record_no, PARSE_ERROR, "not valid JSON text: a \\u escape of a lone surrogate "
                            "(not a Unicode character)", text)
            result.quarantined += 1
            continue
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


# Column types whose numeric cells hold numbers; every other column holds text (identifiers,
# codes, names), where a number is only acceptable when its digits are exactly the delivered ones.
_NUMBER_TYPES = ("int", "number", "amount", "year", "month", "date", "timestamp", "boolean")
# Excel keeps 15 significant digits of a number (and a double cannot hold every integer past
# 2**53): an integer of 16 or more digits in a numeric cell is not what the department typed.
EXACT_NUMBER_LIMIT = 10**15
TEXT_KINDS = frozenset(IDENTIFIER_KINDS) | frozenset(CODE_KINDS)


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


def _inexact_number(value: Any) -> bool:
    """Whether a numeric cell cannot hold the text it stands for (a long ID typed as a number)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if isinstance(value, float):
        return not math.isfinite(value) or (value.is_integer() and abs(value) >= EXACT_NUMBER_LIMIT)
    return False  # an int: the cell's XML holds the integer's digits (no exponent, no fraction)


def _spool(data: BinaryIO, result: FileResult) -> tempfile._TemporaryFileWrapper:
    """The delivered bytes in a local temporary file (hashed on the way): storage errors stay
    storage errors, and whatever fails after this is the file's content."""
    sha = hashlib.sha256()
    local = tempfile.NamedTemporaryFile(prefix="regulake-xlsx-", suffix=".xlsx")
    try:
        while block := data.read(BLOCK_SIZE):
            sha.update(block)
            local.write(block)
        local.flush()
    except BaseException:
        local.close()
        raise
    result.sha256 = sha.hexdigest()
    return local


def _check_inflation(path: str, limits: LandingLimits) -> None:
    """Refuse a workbook whose zip parts would inflate too far, before openpyxl inflates any.

    The sizes come from the zip's directory; zipfile never inflates a part past its declared
    size, so a lying directory cannot get around the check."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise FileUnreadable(f"not a readable XLSX workbook ({type(error).__name__}: {str(error)[:200]})") \
            from None
    total = sum(part.file_size for part in parts)
    if total > limits.max_xlsx_uncompressed_bytes:
        raise FileUnreadable(f"zip bomb: its parts inflate to {total} bytes (limit "
                             f"{limits.max_xlsx_uncompressed_bytes}, conf/landing.yaml)")
    for part in parts:
        ratio = part.file_size / max(part.compress_size, 1)
        if part.file_size > 1 << 20 and ratio > limits.max_xlsx_compression_ratio:
            raise FileUnreadable(f"zip bomb: {part.filename} inflates {ratio:.0f} times ({part.compress_size} -> "
                                 f"{part.file_size} bytes; limit {limits.max_xlsx_compression_ratio}, "
                                 "conf/landing.yaml)")


def _sheet_rows(path: str, data_only: bool, opened: list) -> Iterator[tuple]:
    """Rows of the first sheet; FileUnreadable when the workbook cannot be read (truncated, not XLSX)."""
    import openpyxl  # only the personnel feed needs it

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=data_only)
        opened.append(workbook)
        rows = iter(workbook.worksheets[0].iter_rows(values_only=True))
    except Exception as error:  # noqa: BLE001 - zipfile, zlib, XML and openpyxl errors alike
        raise FileUnreadable(f"not a readable XLSX workbook ({type(error).__name__}: {str(error)[:200]})") \
            from None
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except Exception as error:  # noqa: BLE001
            raise FileUnreadable(f"not a readable XLSX workbook ({type(error).__name__}: {str(error)[:200]})") \
                from None
        yield row


def read_xlsx(data: BinaryIO, schema: FeedSchema, sink: RecordSink,
              limits: LandingLimits | None = None) -> FileResult:
    """Read the first sheet of an XLSX workbook: a header row, then one record per non-empty row.

    Cells of text columns (identifiers above all) must read back as the delivered text: a
    number too long to be exact (an 18-digit RIC typed into a General cell) and a formula
    without a cached value (written by a tool that does not calculate) quarantine their
    record as `parse_error` instead of landing wrong digits or a silent null.
    """
    limits = limits or landing_limits()
    result = FileResult()
    local = _spool(data, result)
    opened: list = []
    try:
        _check_inflation(local.name, limits)
        # The formulas themselves, beside the cached values, tell a formula without a value from an empty cell.
        pairs = zip(_sheet_rows(local.name, True, opened), _sheet_rows(local.name, False, opened), strict=False)
        header: list[str] | None = None
        positions: list[tuple[int, int]] = []
        extras: list[tuple[int, str]] = []
        text_cells: dict[int, str] = {}  # cell index -> column name, for columns that hold text
        names = schema.column_names
        record_no = 0
        for row, formulas in pairs:
            cells = [_cell_text(v) for v in row]
            uncached = [i for i, v in enumerate(row) if v is None and i < len(formulas) and formulas[i] is not None]
            if all(c is None or c == "" for c in cells) and not uncached:
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
                text_cells = {index: name for name, index in match.positions.items()
                              if schema.column(name).type not in _NUMBER_TYPES}
                continue
            record_no += 1
            while cells and cells[-1] is None and (len(cells) - 1) not in uncached:
                cells.pop()  # padding, not delivered cells
            raw_text = json.dumps(cells, ensure_ascii=False)
            overflow = [c for c in cells[len(header):] if c not in (None, "")]
            if any("\ufffd" in c for c in cells if c):
                sink.quarantine(record_no, ENCODING_ERROR, "U+FFFD replacement character in a cell", raw_text)
                result.quarantined += 1
                continue
            if not _unicode_text(cells, None):  # an _xD800_ escape of a lone surrogate
                sink.quarantine(record_no, ENCODING_ERROR, "a lone surrogate in a cell (not a Unicode character)",
                                raw_text)
                result.quarantined += 1
                continue
            if overflow:
                sink.quarantine(record_no, PARSE_ERROR,
                                f"expected {len(header)} cells, found {len(header) + len(overflow)}", raw_text)
                result.quarantined += 1
                continue
            problems = [f"{_header_name(header, i)}: formula {str(formulas[i])[:100]} without a cached value"
                        for i in uncached]
            problems += [f"{name}: numeric cell {row[i]!r} cannot hold the delivered digits (more than "
                         f"15 significant digits are lost in a number; deliver the column as text)"
                         for i, name in text_cells.items() if i < len(row) and _inexact_number(row[i])]
            if problems:
                sink.quarantine(record_no, PARSE_ERROR, "; ".join(problems), raw_text)
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
        for workbook in opened:
            workbook.close()
        local.close()
    return result


def _header_name(header: list[str], index: int) -> str:
    return header[index] if index < len(header) and header[index] else f"column {index + 1}"


READERS = {"csv": read_csv, "jsonl": read_jsonl, "xlsx": read_xlsx}
