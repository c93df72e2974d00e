"""Writing delivery files (CSV / JSONL / XLSX) and manifests exactly as the standard describes.

The writer also produces the truth rows of records.parquet, because only it knows each
record's file and 1-based record number. Syntax-level defects (wrong field count, an
unterminated quote in a file's last record, a JSONL line that is not an object, bytes that
do not decode) are made here, on the serialised record.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

from regulake.feeds import FeedSchema

from . import defects as D
from .shaping import QUARANTINE, Shaped

TRUTH_SCHEMA = pa.schema([
    ("feed_id", pa.string()), ("batch_date", pa.string()), ("file_name", pa.string()),
    ("record_no", pa.int64()), ("record_key", pa.string()), ("entity_id", pa.string()),
    ("id_kind", pa.string()), ("name_variant", pa.string()), ("defect", pa.string()),
    ("variants", pa.string()), ("expected", pa.string()), ("mention_pos", pa.int32()),
])


@dataclass(frozen=True)
class FileLayout:
    """How one delivery's files look: header order/case, an extra column, a dropped column."""

    order: tuple[int, ...] | None = None
    header_case: bool = False
    extra_column: bool = False
    drop_column: str | None = None


@dataclass
class WrittenFile:
    name: str
    rows: int
    sha256: str


def header_names(feed: FeedSchema, layout: FileLayout) -> tuple[list[str], list[int]]:
    """Header as written and, per header position, the index of the standard column (-1 = extra)."""
    idx = list(layout.order) if layout.order else list(range(len(feed.columns)))
    if layout.drop_column:
        drop = feed.column_names.index(layout.drop_column)
        idx = [i for i in idx if i != drop]
    names = [feed.columns[i].name for i in idx]
    if layout.header_case:
        names = [(" " + n.upper() + " ") if j % 2 == 0 else n.title() for j, n in enumerate(names)]
    if layout.extra_column:
        names.append("remark")
        idx.append(-1)
    return names, idx


def write_part(path: Path, shaped: Shaped, rows_idx: list[int], layout: FileLayout,
               rng: np.random.Generator, broken_quote_rate: float) -> tuple[WrittenFile, list[str | None]]:
    """Write one part file; returns the file facts and the defect of each record as finally written."""
    feed = shaped.feed
    names, idx = header_names(feed, layout)
    defects = [shaped.defect[i] for i in rows_idx]
    if feed.format == "csv":
        data = _csv_bytes(feed, shaped, rows_idx, names, idx, defects, rng, broken_quote_rate)
    elif feed.format == "jsonl":
        data = _jsonl_bytes(feed, shaped, rows_idx, idx, defects, rng)
    else:
        data = _xlsx_bytes(feed, shaped, rows_idx, names, idx)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return WrittenFile(path.name, len(rows_idx), hashlib.sha256(data).hexdigest()), defects


_EXTRA_VALUES = ("系统导出", "人工核对", "")


def _csv_bytes(feed: FeedSchema, shaped: Shaped, rows_idx: list[int], names: list[str], idx: list[int],  # noqa: C901
               defects: list, rng: np.random.Generator, broken_quote_rate: float) -> bytes:
    encoding = "gb18030" if feed.encoding == "gb18030" else "utf-8"
    chunks: list[bytes] = []
    if feed.encoding == "utf-8-sig":
        chunks.append(b"\xef\xbb\xbf")
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(names)
    n = len(rows_idx)
    broken_last = n > 0 and defects[-1] is None and rng.random() < broken_quote_rate

    def flush() -> None:
        if buf.tell():
            chunks.append(buf.getvalue().encode(encoding))
            buf.seek(0)
            buf.truncate()

    plain: list[list[str]] = []
    for pos, i in enumerate(rows_idx):
        values = shaped.rows[i]
        out = [("" if values[j] is None else str(values[j])) if j >= 0 else _EXTRA_VALUES[(i + pos) % 3]
               for j in idx]
        d = defects[pos]
        if pos == n - 1 and broken_last and not any(ch in v for v in out for ch in ',"\n\r'):
            texts = [k for k, j in enumerate(idx) if j >= 0 and feed.columns[j].type == "text" and out[k]
                     and k < len(out) - 1]
            if texts:
                writer.writerows(plain)
                plain = []
                flush()
                k = texts[int(rng.integers(0, len(texts)))]
                out[k] = '"' + out[k]
                chunks.append((",".join(out) + "\n").encode(encoding))
                defects[pos] = "parse_error"
                continue
        if d == "parse_error":
            out = D.parse_error_csv(out, feed, rng)
        if d == "encoding_error" or any(D.SENTINEL in v for v in out):
            writer.writerows(plain)
            plain = []
            flush()
            writer.writerow(out)
            text = buf.getvalue()
            buf.seek(0)
            buf.truncate()
            chunks.append(b"\xff".join(part.encode(encoding) for part in text.split(D.SENTINEL)))
            continue
        plain.append(out)
    writer.writerows(plain)
    flush()
    return b"".join(chunks)


def _jsonl_bytes(feed: FeedSchema, shaped: Shaped, rows_idx: list[int], idx: list[int], defects: list,
                 rng: np.random.Generator) -> bytes:
    names = feed.column_names
    lines: list[str] = []
    chunks: list[bytes] = []
    dumps = json.JSONEncoder(ensure_ascii=False).encode
    for pos, i in enumerate(rows_idx):
        values = shaped.rows[i]
        # Some systems leave empty keys out, others write null: decided by the record's content
        # so that an exact duplicate is serialised exactly like its original.
        if zlib.crc32(f"{values[0]}{values[-1]}".encode()) & 1:
            record = {names[j]: values[j] for j in idx if j >= 0 and values[j] is not None}
        else:
            record = {names[j]: values[j] for j in idx if j >= 0}
        d = defects[pos]
        line = D.parse_error_jsonl(record, rng) if d == "parse_error" else dumps(record)
        if D.SENTINEL in line:
            if lines:
                chunks.append(("\n".join(lines) + "\n").encode("utf-8"))
                lines = []
            chunks.append(b"\xff".join(p.encode("utf-8") for p in (line + "\n").split(D.SENTINEL)))
            continue
        lines.append(line)
    if lines:
        chunks.append(("\n".join(lines) + "\n").encode("utf-8"))
    return b"".join(chunks)


def _xlsx_bytes(feed: FeedSchema, shaped: Shaped, rows_idx: list[int], names: list[str], idx: list[int]) -> bytes:
    import xlsxwriter

    buf = io.BytesIO()
    # Fixed document dates keep the bytes (and so the SHA-256) deterministic for a seed.
    book = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False,
                                     "strings_to_urls": False})
    book.set_properties({"created": datetime(2024, 1, 1)})
    sheet = book.add_worksheet("执法人员" if feed.feed_id == "personnel" else "Sheet1")
    sheet.write_row(0, 0, names)
    for r, i in enumerate(rows_idx, start=1):
        values = shaped.rows[i]
        for c, j in enumerate(idx):
            v = values[j] if j >= 0 else ""
            if v not in (None, ""):
                sheet.write_string(r, c, str(v))
            elif c == 0:
                sheet.write_blank(r, c, None)
    book.close()
    return buf.getvalue()


def truth_columns(shaped: Shaped, rows_idx: list[int], defects: list, batch_date: str, file_name: str,
                  delivery_loaded: bool) -> dict[str, list]:
    """records.parquet rows for one written file (one per mention for sentiment)."""
    out: dict[str, list] = {f.name: [] for f in TRUTH_SCHEMA}
    feed_id = shaped.feed.feed_id
    for pos, i in enumerate(rows_idx):
        d = defects[pos]
        if not delivery_loaded:
            expected = "not_loaded"
        elif d in QUARANTINE:
            expected = "quarantined"
        elif d == "duplicate":
            expected = "duplicate"
        else:
            expected = "accepted"
        base = (feed_id, batch_date, file_name, pos + 1)
        mentions = shaped.mentions[i] if shaped.mentions is not None else None
        if mentions:
            for p, (ent, kind, variant) in enumerate(mentions):
                _append(out, base, f"{shaped.key[i]}|{p}", ent, kind, variant, d, shaped.variants[i], expected, p)
        else:
            _append(out, base, shaped.key[i], shaped.entity[i], shaped.id_kind[i], shaped.name_variant[i], d,
                    shaped.variants[i], expected, None)
    return out


def _append(out: dict, base: tuple, key: str, ent: object, kind: object, variant: object, defect: object,
            variants: object, expected: str, pos: int | None) -> None:
    out["feed_id"].append(base[0])
    out["batch_date"].append(base[1])
    out["file_name"].append(base[2])
    out["record_no"].append(base[3])
    out["record_key"].append(key)
    out["entity_id"].append(ent)
    out["id_kind"].append(kind)
    out["name_variant"].append(variant)
    out["defect"].append(defect)
    out["variants"].append(variants)
    out["expected"].append(expected)
    out["mention_pos"].append(pos)


def manifest_json(feed_id: str, batch_date: str, mode: str, files: list[WrittenFile], produced_at: str) -> str:
    return json.dumps({
        "feed_id": feed_id, "batch_date": batch_date, "mode": mode,
        "files": [{"name": f.name, "rows": f.rows, "sha256": f.sha256} for f in files],
        "produced_at": produced_at,
    }, ensure_ascii=False, indent=2)
