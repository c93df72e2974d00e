"""Builders for tiny deliveries (data files + manifest with true checksums) used by the landing tests."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

from regulake.feeds import load_feed

PENALTY_HEADER = ("decision_no,uscc,ent_name,violation_type,legal_basis,penalty_types,fine_amount,"
                  "confiscated_amount,severity,decision_date,authority,authority_region_code,matter_code,"
                  "publicity_status,updated_at")


def penalty_row(n: int, **override: str) -> str:
    """One samr_penalty CSV line; `n` makes the business key unique."""
    values = {
        "decision_no": f"郑市监罚〔2024〕{n}号", "uscc": "91410105MA3CKJ4U5U", "ent_name": "郑州创俊百货有限责任公司",
        "violation_type": "发布违法广告", "legal_basis": "", "penalty_types": "警告;罚款", "fine_amount": "5000",
        "confiscated_amount": "", "severity": "1", "decision_date": "2024-03-20", "authority": "金水区市场监督管理局",
        "authority_region_code": "410105", "matter_code": "", "publicity_status": "",
        "updated_at": f"2024-03-2{n % 10} 14:13:09",
    }
    values.update(override)
    return ",".join(values[c] for c in PENALTY_HEADER.split(","))


def count_records(feed_format: str, data: bytes) -> int:
    """Records as the manifest counts them, for fixtures whose files are well formed line-wise."""
    if feed_format == "jsonl":
        return sum(1 for line in data.split(b"\n") if line.strip())
    raise ValueError("pass rows= explicitly for csv/xlsx fixtures")


def write_delivery(
    root: Path,
    feed_id: str,
    batch_date: str,
    files: dict[str, bytes],
    rows: dict[str, int] | None = None,
    mode: str = "incremental",
    manifest: bool | bytes | dict = True,
    folder: str | None = None,
) -> Path:
    """Write a delivery folder: data files, then (unless manifest=False) a manifest with true checksums.

    `rows` gives each file's record count (default: counted for JSONL; for CSV, lines - 1).
    `manifest` may be raw bytes (invalid manifests) or a dict merged over the computed one.
    """
    folder_path = root / feed_id / (folder or batch_date)
    folder_path.mkdir(parents=True, exist_ok=True)
    entries = []
    for name, data in files.items():
        (folder_path / name).write_bytes(data)
        if rows and name in rows:
            count = rows[name]
        elif name.endswith(".jsonl"):
            count = count_records("jsonl", data)
        else:
            count = data.rstrip(b"\n").count(b"\n")
        entries.append({"name": name, "rows": count, "sha256": hashlib.sha256(data).hexdigest()})
    if manifest is False:
        return folder_path
    if isinstance(manifest, bytes):
        (folder_path / "manifest.json").write_bytes(manifest)
        return folder_path
    body = {"feed_id": feed_id, "batch_date": batch_date, "mode": mode, "files": entries,
            "produced_at": f"{batch_date[:4]}-{batch_date[4:6]}-{batch_date[6:]}T23:00:00+08:00"}
    if isinstance(manifest, dict):
        body.update(manifest)
    (folder_path / "manifest.json").write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
    return folder_path


def penalty_csv(*rows: str, header: str = PENALTY_HEADER, newline: str = "\n") -> bytes:
    return (newline.join([header, *rows]) + newline).encode("utf-8")


class Collect:
    """A RecordSink that keeps everything in memory."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, list, dict | None, str]] = []
        self.quarantined: list[tuple[int, str, str, str]] = []

    def add(self, record_no, values, extra, record_hash):
        self.rows.append((record_no, values, extra, record_hash))

    def quarantine(self, record_no, reason_code, reason_detail, raw_record):
        self.quarantined.append((record_no, reason_code, reason_detail, raw_record))

    def codes(self) -> list[tuple[int, str]]:
        return [(q[0], q[1]) for q in self.quarantined]


def read_bytes(reader, feed_id: str, data: bytes):
    sink = Collect()
    result = reader(io.BytesIO(data), load_feed(feed_id), sink)
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert result.records == result.landed + result.quarantined
    return result, sink
