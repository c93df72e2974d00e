"""Issue 13: deliveries that must be refused (or records quarantined) instead of landing wrong data or
raising. A delivery folder is immutable, so a delivery that makes landing raise fails its feed on every
run: every hostile input below becomes `rejected` (delivery) or `parse_error` (record) with a reason.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import textwrap
import time
from datetime import date
from pathlib import Path

import pytest

from jobs.landing.job import REJECTED, Delivery, classify, read_delivery
from jobs.landing.manifest import ManifestError, parse_manifest
from jobs.landing.readers import PARSE_ERROR, read_csv, read_jsonl, read_xlsx, split_csv_records
from regulake import storage
from regulake.feeds import load_feed

from .helpers import Collect, penalty_csv, penalty_row
from .helpers import read_bytes as _read

PENALTY = load_feed("samr_penalty")
TODAY = date(2025, 3, 1)




def _manifest(**override) -> bytes:
    body = {"feed_id": "samr_penalty", "batch_date": "20240301", "mode": "incremental",
            "files": [{"name": "part-0001.csv", "rows": 2, "sha256": "ab" * 32}]}
    body.update(override)
    return json.dumps(body).encode()


def _classify(folder: Path, schema=PENALTY, today: date = TODAY) -> Delivery:
    manifest = folder / "manifest.json"
    delivery = Delivery(schema.feed_id, folder.name, str(folder), storage.list_files(str(folder)))
    return classify(schema, delivery, {}, {}, manifest.read_bytes() if manifest.exists() else None, today=today)


# --- 2. batch dates ------------------------------------------------------------------------


@pytest.mark.parametrize("batch_date", ["20251399", "20250230", "00000101", "2024030１", "20240301\n", "２０２４０３０１"])
def test_impossible_batch_date_is_manifest_invalid(batch_date):
    with pytest.raises(ManifestError) as caught:
        parse_manifest(_manifest(batch_date=batch_date), "samr_penalty")
    assert caught.value.code == "manifest_invalid" and "batch_date" in caught.value.detail


def test_batch_date_that_differs_from_its_folder_is_rejected(make_delivery):
    folder = make_delivery("samr_penalty", "20240302", {"part-0001.csv": penalty_csv(penalty_row(1))},
                           folder="20240301")
    decided = _classify(folder)
    assert decided.status == REJECTED
    assert decided.reason == "manifest_batch_date_mismatch: manifest batch_date 20240302, folder 20240301"


def test_batch_date_later_than_landing_allows_is_rejected(make_delivery):
    files = {"part-0001.csv": penalty_csv(penalty_row(1))}
    tomorrow = _classify(make_delivery("samr_penalty", "20250302", files))  # within the 1-day skew
    assert tomorrow.status is None  # a candidate
    later = _classify(make_delivery("samr_penalty", "20250303", files))
    assert later.status == REJECTED
    assert later.reason.startswith("manifest_invalid: batch_date 20250303 is later than the landing date "
                                   "20250301 allows")
    far = _classify(make_delivery("samr_penalty", "20520301", files))
    assert far.status == REJECTED and far.reason.startswith("manifest_invalid: batch_date 20520301")


def test_full_delivery_of_an_incremental_only_feed_is_rejected(make_delivery):
    folder = make_delivery("samr_penalty", "20240301", {"part-0001.csv": penalty_csv(penalty_row(1))}, mode="full")
    decided = _classify(folder)
    assert decided.status == REJECTED
    assert decided.reason == "mode_not_declared: full (schemas/samr_penalty.yaml allows incremental)"


# --- 5. hostile manifests ------------------------------------------------------------------


def _file_entry(rows) -> list[dict]:
    return [{"name": "part-0001.csv", "rows": rows, "sha256": "ab" * 32}]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(_manifest(produced_at=0).replace(b'"produced_at": 0', b'"produced_at": ' + b"1" * 5000),
                     id="huge-int-5000-digits"),  # beyond Python's int() digit limit
        pytest.param(b'{"feed_id": "samr_penalty", "x": ' + b"9" * 100_000 + b"}", id="huge-int-100k"),
        pytest.param(b'{"feed_id": ' + b"9" * 10_000 + b"}", id="huge-int-as-feed"),
        pytest.param(b'{"feed_id": "samr_penalty", "x": ' + b"[" * 100_000 + b"1" + b"]" * 100_000 + b"}",
                     id="deeply-nested"),
        pytest.param(b"[" * 100_000, id="deeply-nested-unclosed"),
        pytest.param(_manifest(files=_file_entry(10 ** 20)), id="rows-beyond-long"),
        pytest.param(_manifest(files=[{"name": f"part-{i}.csv", "rows": 2 ** 62, "sha256": "ab" * 32}
                                      for i in range(3)]), id="total-rows-beyond-long"),
        pytest.param(_manifest().replace(b'"rows": 2', b'"rows": NaN'), id="rows-nan"),
        pytest.param(_manifest().replace(b'"rows": 2', b'"rows": Infinity'), id="rows-infinity"),
        pytest.param(_manifest().replace(b'"rows": 2', b'"rows": 1e400'), id="rows-float-overflow"),
        pytest.param(_manifest(feed_id="x" * 1_000_000), id="huge-feed-id"),
    ],
)
def test_hostile_manifest_is_rejected_not_raised(data):
    with pytest.raises(ManifestError) as caught:
        parse_manifest(data, "samr_penalty")
    assert caught.value.code in ("manifest_invalid", "manifest_feed_mismatch")
    assert len(str(caught.value)) < 500  # the reason stays readable


def test_oversized_manifest_is_rejected(make_delivery):
    folder = make_delivery("samr_penalty", "20240301", {"part-0001.csv": penalty_csv(penalty_row(1))},
                           manifest={"padding": "x" * (16 << 20)})
    decided = _classify(folder)
    assert decided.status == REJECTED and decided.reason.startswith("manifest_invalid: manifest.json is")


# --- 5. hostile JSONL records --------------------------------------------------------------


def _event(n: int, **extra) -> str:
    body = {"event_id": f"EV{n}", "task_id": "XT1", "event_type": "handle", "from_dept": "RS",
            "at": "2024-01-01T10:00:00+08:00", **extra}
    return json.dumps(body, ensure_ascii=False)


def test_jsonl_nan_infinity_and_deep_nesting_are_parse_errors():
    lines = [
        _event(1),
        '{"event_id": "EV2", "task_id": "XT1", "event_type": "handle", "from_dept": "RS", "at": "x", "w": NaN}',
        '{"event_id": "EV3", "task_id": "XT1", "event_type": "handle", "from_dept": "RS", "at": "x", "w": Infinity}',
        '{"event_id": "EV4", "task_id": "XT1", "event_type": "handle", "from_dept": "RS", "at": "x", "w": -Infinity}',
        '{"event_id": "EV5", "note": ' + "[" * 100_000 + "]" * 100_000 + "}",
        '{"event_id": "EV6", "note": ' + "[" * 900 + "]" * 900 + "}",  # decodable, then turned into text
        '{"event_id": "EV7", "note": ' + '{"a": ' * 2000 + "1" + "}" * 2000 + "}",
        _event(8, fine=0).replace('"fine": 0', '"fine": 1e999'),  # too large for a float: kept as its text
        _event(9, big=0).replace('"big": 0', '"big": ' + "9" * 5000),  # beyond int()'s digit limit: text
        _event(10, note="x").replace('"x"', '"a\\ud800b"'),  # a lone surrogate: no file or table can hold it
        _event(11, note="x").replace('"x"', '"\\ud83d\\ude00"'),  # a surrogate pair is one character: fine
        _event(12).replace('"at"', '"\\udfff"'),  # ... also in a key (kept in _extra)
    ]
    result, sink = _read(read_jsonl, "coop_task_event", "\n".join(lines).encode())
    assert result.records == 12
    codes = {q[0]: q[1] for q in sink.quarantined}
    assert {n: codes[n] for n in (2, 3, 4, 5)} == {n: PARSE_ERROR for n in (2, 3, 4, 5)}
    assert "NaN" in next(q[2] for q in sink.quarantined if q[0] == 2)
    assert {r[0] for r in sink.rows} | set(codes) == set(range(1, 13))
    assert {1, 8, 9, 11} <= {r[0] for r in sink.rows}
    assert codes[10] == codes[12] == PARSE_ERROR and "surrogate" in next(q[2] for q in sink.quarantined if q[0] == 10)


# --- 5. truncated XLSX ---------------------------------------------------------------------


PERSONNEL = load_feed("personnel")
PERSONNEL_HEADER = ["姓名", "身份证号", "执法证号", "部门编码", "部门名称", "行政区划", "执法领域", "状态", "更新时间"]


def _xlsx(rows: list[list]) -> bytes:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _person(n: int, **override) -> list:
    values = {"姓名": "马秀英", "身份证号": "412721196604275781", "执法证号": f"410100040001{n:02d}", "部门编码": "HB",
              "部门名称": "郑州市生态环境局", "行政区划": "410100", "执法领域": "大气", "状态": "在岗",
              "更新时间": "2019-01-02 20:19:00"}
    values.update(override)
    return [values[h] for h in PERSONNEL_HEADER]


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.9, 0.99])
def test_truncated_xlsx_rejects_its_delivery(make_delivery, tmp_path, keep):
    whole = _xlsx([PERSONNEL_HEADER, *[_person(n) for n in range(1, 60)]])
    truncated = whole[: int(len(whole) * keep)]
    folder = make_delivery("personnel", "20240301", {"part-0001.xlsx": truncated}, rows={"part-0001.xlsx": 59},
                           mode="full")
    delivery = _classify(folder, PERSONNEL)
    assert delivery.status is None
    read_delivery(PERSONNEL, delivery, str(tmp_path / "staging"))
    assert delivery.status == REJECTED
    assert delivery.reason.startswith("file_unreadable: part-0001.xlsx: not a readable XLSX workbook")
    assert delivery.staging is None


def test_garbage_xlsx_rejects_its_delivery(make_delivery, tmp_path):
    folder = make_delivery("personnel", "20240301", {"part-0001.xlsx": b"PK\x03\x04" + os.urandom(3000)},
                           rows={"part-0001.xlsx": 1}, mode="full")
    delivery = _classify(folder, PERSONNEL)
    read_delivery(PERSONNEL, delivery, str(tmp_path / "staging"))
    assert delivery.status == REJECTED and delivery.reason.startswith("file_unreadable: part-0001.xlsx")


# --- 4. XLSX identifiers -------------------------------------------------------------------


RIC = "410105199001011234"  # 18 digits: more than a double (and Excel's 15 significant digits) can hold


def test_xlsx_long_numeric_identifiers_read_back_exactly_or_are_quarantined():
    """What a department's Excel holds for an 18-digit ID:

    * typed with a leading apostrophe or in a cell formatted as Text, Excel stores a *string*
      cell: it must read back exactly (row 1);
    * typed into a General cell, Excel stores a *number*: a double, kept to 15 significant
      digits (410105199001011000, shown 4.10105E+17); openpyxl and xlsxwriter also write the
      double (4.101051990010113e+17). The digits are gone: reading it as 410105199001011328 (or
      ...000) would publish a wrong ID, so the record is quarantined with a reason (row 2);
    * an ID short enough for a number (a 14-digit certificate no., a 6-digit region code) in a
      numeric cell is exact and reads back without `.0` (row 3).
    """
    data = _xlsx([
        PERSONNEL_HEADER,
        _person(1, 身份证号=RIC),
        _person(2, 身份证号=int(RIC)),  # openpyxl writes it as the double 4.101051990010113e+17
        _person(3, 执法证号=41010004000103, 行政区划=410100),
    ])
    result, sink = _read(read_xlsx, "personnel", data)
    names = PERSONNEL.column_names
    values = {r[0]: r[1] for r in sink.rows}
    assert values[1][names.index("身份证号")] == RIC
    assert 2 not in values
    assert [(q[0], q[1]) for q in sink.quarantined] == [(2, PARSE_ERROR)]
    assert "身份证号" in sink.quarantined[0][2] and "digits" in sink.quarantined[0][2]
    assert "410105199001011328" not in json.dumps([r[1] for r in sink.rows])
    assert (values[3][names.index("执法证号")], values[3][names.index("行政区划")]) == ("41010004000103", "410100")


def test_xlsx_identifier_written_by_xlsxwriter_as_text_and_as_number():
    import xlsxwriter

    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer)
    sheet = workbook.add_worksheet()
    sheet.write_row(0, 0, PERSONNEL_HEADER)
    sheet.write_row(1, 0, _person(1))
    sheet.write_string(1, 1, RIC)
    sheet.write_row(2, 0, _person(2))
    sheet.write_number(2, 1, int(RIC))  # stored as a double: %.16G -> 4.101051990010112E+17
    workbook.close()
    _, sink = _read(read_xlsx, "personnel", buffer.getvalue())
    names = PERSONNEL.column_names
    assert [r[1][names.index("身份证号")] for r in sink.rows] == [RIC]
    assert [(q[0], q[1]) for q in sink.quarantined] == [(2, PARSE_ERROR)]


def test_xlsx_formula_without_cached_value_is_quarantined_not_null():
    # openpyxl writes formulas without a cached value (<f>..</f><v/>), as any tool that does
    # not calculate; a formula whose cached value is there (xlsxwriter's value=) is read as it.
    import xlsxwriter

    data = _xlsx([PERSONNEL_HEADER, _person(1, 执法证号='="4101000400"&"0101"'), _person(2)])
    result, sink = _read(read_xlsx, "personnel", data)
    assert [(q[0], q[1]) for q in sink.quarantined] == [(1, PARSE_ERROR)]
    assert "执法证号" in sink.quarantined[0][2] and "formula" in sink.quarantined[0][2]
    assert [r[0] for r in sink.rows] == [2]

    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer)
    sheet = workbook.add_worksheet()
    sheet.write_row(0, 0, PERSONNEL_HEADER)
    sheet.write_row(1, 0, _person(1))
    sheet.write_formula(1, 2, '="4101000400"&"0101"', None, "41010004000101")
    workbook.close()
    _, sink = _read(read_xlsx, "personnel", buffer.getvalue())
    assert sink.quarantined == [] and sink.rows[0][1][PERSONNEL.column_names.index("执法证号")] == "41010004000101"


# --- 6. bounded readers --------------------------------------------------------------------


_BOUNDED_READ = textwrap.dedent("""
    import io, json, resource, sys, time
    from jobs.landing.readers import read_csv, read_jsonl
    from regulake.feeds import load_feed

    class Sink:
        def __init__(self):
            self.rows, self.quarantined = 0, []
        def add(self, *args):
            self.rows += 1
        def quarantine(self, record_no, code, detail, raw):
            self.quarantined.append((record_no, code, detail, len(raw)))

    feed, path = sys.argv[1], sys.argv[2]
    reader = read_jsonl if feed == "coop_task_event" else read_csv
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    sink = Sink()
    with open(path, "rb") as stream:
        result = reader(stream, load_feed(feed), sink)
    print(json.dumps({"seconds": time.monotonic() - started, "records": result.records, "rows": sink.rows,
                      "quarantined": sink.quarantined, "sha256": result.sha256,
                      "growth_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before}))
""")


def _bounded_read(feed_id: str, path: Path) -> dict:
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run([sys.executable, "-c", _BOUNDED_READ, feed_id, str(path)], cwd=root, check=True,
                          capture_output=True, text=True, timeout=300)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("feed_id", ["samr_penalty", "coop_task_event"])
def test_a_200_mb_line_without_newline_is_read_in_bounded_memory_and_time(tmp_path, feed_id):
    header = (penalty_csv(penalty_row(1)) if feed_id == "samr_penalty" else (_event(1) + "\n").encode())
    path = tmp_path / "one_line.txt"
    chunk = b"x" * (1 << 20)
    sha = hashlib.sha256()
    with open(path, "wb") as out:
        for part in (header, *[chunk] * 200):
            out.write(part)
            sha.update(part)
    found = _bounded_read(feed_id, path)
    assert found["sha256"] == sha.hexdigest()
    assert found["records"] == 2 and found["rows"] == 1
    [(record_no, code, detail, raw_length)] = found["quarantined"]
    assert (record_no, code) == (2, PARSE_ERROR) and detail.startswith("record_too_long: 209715200 bytes")
    assert raw_length <= 65536
    assert found["growth_kb"] < 120 * 1024, found  # the line is 200 MB; the limit is 16 MB
    assert found["seconds"] < 60, found


def test_broken_quote_recovery_is_linear():
    # Every line keeps a quote open whether it starts inside one or not: before the fix each
    # line was re-read with the up to 10,000 lines after it (O(lines x 10,000)).
    lines = [b'a","b'] * 60_000 + [b"c,d,e"]
    started = time.monotonic()
    records = list(split_csv_records(iter(lines)))
    elapsed = time.monotonic() - started
    assert len(records) == 60_001 and all(broken for _, broken in records[:-1]) and records[-1] == (b"c,d,e", False)
    assert elapsed < 10, elapsed


def test_broken_quote_recovery_keeps_its_results():
    # The lines after a broken quote are records again, including one that opens a quoted field
    # closing within the limits.
    lines = [b'a,"b', b'c","d', b"e", b'f",g', b"h,i"]
    assert list(split_csv_records(iter(lines), max_lines=2)) == [
        (b'a,"b', True), (b'c","d\ne\nf",g', False), (b"h,i", False)]
    assert list(split_csv_records(iter([b'a,"b', b"c,d", b"e,f"]), max_lines=1)) == [
        (b'a,"b', True), (b"c,d", False), (b"e,f", False)]
    assert list(split_csv_records(iter([b'a,"b', b'c","d', b'e","f']), max_lines=10)) == [
        (b'a,"b', True), (b'c","d', True), (b'e","f', True)]


def test_csv_record_too_long_within_a_quoted_field(tmp_path):
    # A quoted field that grows past the byte limit: its first line is broken quoting, the rest
    # are records again (as the department counted them).
    big = b"y" * 1000
    data = penalty_csv(penalty_row(1)) + b'x,"' + big + b"\n" + b"\n".join([big] * 40) + b"\n"
    sink = Collect()
    from jobs.landing.config import LandingLimits

    result = read_csv(io.BytesIO(data), PENALTY, sink, LandingLimits(max_record_bytes=20_000))
    assert result.records == 42 and result.landed == 1
    assert sink.quarantined[0][:2] == (2, PARSE_ERROR) and sink.quarantined[0][2].startswith("broken quoting")


# --- end to end: the feed keeps loading ------------------------------------------------------


def test_hostile_deliveries_are_rejected_and_the_feeds_keep_loading(spark, lake, make_delivery):
    from pyspark.sql import functions as F

    from jobs.landing import job as landing_job
    from tests.stages import context

    def land_feed(spark, settings, root, feed_id, run_id):
        return landing_job.run(context(spark, settings, run_id, landing=root, feed_id=feed_id))

    good = "\n".join([_event(1), _event(2, w=float("nan"))]).encode()  # json.dumps writes NaN
    make_delivery("coop_task_event", "20240301", {"part-0001.jsonl": good})
    make_delivery("coop_task_event", "20240302", {"part-0001.jsonl": (_event(3) + "\n").encode()},
                  manifest={"files": [{"name": "part-0001.jsonl", "rows": 10 ** 20,
                                       "sha256": hashlib.sha256((_event(3) + "\n").encode()).hexdigest()}]})
    huge = make_delivery("coop_task_event", "20240303", {"part-0001.jsonl": (_event(4) + "\n").encode()})
    (huge / "manifest.json").write_bytes(b'{"feed_id": "coop_task_event", "n": ' + b"7" * 50_000 + b"}")
    nested = make_delivery("coop_task_event", "20240304", {"part-0001.jsonl": (_event(5) + "\n").encode()})
    (nested / "manifest.json").write_bytes(b'{"feed_id": "coop_task_event", "n": ' + b"[" * 50_000 + b"}")
    make_delivery("coop_task_event", "20520301", {"part-0001.jsonl": (_event(6) + "\n").encode()})
    make_delivery("personnel", "20240301", {"part-0001.xlsx": _xlsx([PERSONNEL_HEADER, _person(1), _person(2)])},
                  rows={"part-0001.xlsx": 2}, mode="full")
    whole = _xlsx([PERSONNEL_HEADER, _person(1), _person(2), _person(3)])
    make_delivery("personnel", "20240302", {"part-0001.xlsx": whole[: len(whole) // 2]},
                  rows={"part-0001.xlsx": 3}, mode="full")
    make_delivery("personnel", "20520301", {"part-0001.xlsx": whole}, rows={"part-0001.xlsx": 3}, mode="full")
    root = str(make_delivery.root)

    results = {feed: land_feed(spark, lake, root, feed, "run-1") for feed in ("coop_task_event", "personnel")}
    statuses = {(feed, d["batch_date"] if d["status"] != "rejected" or d["batch_date"].isdigit() else "?"):
                (d["status"], (d["reason"] or "").split(":")[0])
                for feed, result in results.items() for d in result["deliveries"]}
    assert statuses == {
        ("coop_task_event", "20240301"): ("loaded", ""),
        ("coop_task_event", "20240302"): ("rejected", "manifest_invalid"),
        ("coop_task_event", "20240303"): ("rejected", "manifest_invalid"),
        ("coop_task_event", "20240304"): ("rejected", "manifest_invalid"),
        ("coop_task_event", "20520301"): ("rejected", "manifest_invalid"),
        ("personnel", "20240301"): ("loaded", ""),
        ("personnel", "20240302"): ("rejected", "file_unreadable"),
        ("personnel", "20520301"): ("rejected", "manifest_invalid"),
    }
    future = next(d for d in results["personnel"]["deliveries"] if d["batch_date"] == "20520301")
    assert "later than the landing date" in future["reason"]
    bronze = spark.read.format("delta").load(lake.table_path("bronze", "coop_task_event"))
    assert [r.event_id for r in bronze.collect()] == ["EV1"]
    quarantine = spark.read.format("delta").load(lake.table_path("audit", "quarantine"))
    assert [(q.record_no, q.reason_code) for q in quarantine.where(F.col("feed_id") == "coop_task_event").collect()] \
        == [(2, "parse_error")]
    assert spark.read.format("delta").load(lake.table_path("bronze", "personnel")).count() == 2
    # Judged once: a rerun logs nothing and raises nothing.
    for feed in ("coop_task_event", "personnel"):
        assert land_feed(spark, lake, root, feed, "run-2")["deliveries"] == []
