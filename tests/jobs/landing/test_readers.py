"""Per-format readers: record counting, per-record decoding, parse-level defects (no Spark)."""

from __future__ import annotations

import hashlib
import io
import json

import pytest

from jobs.landing.readers import (
    ENCODING_ERROR,
    PARSE_ERROR,
    read_csv,
    read_jsonl,
    read_xlsx,
    split_csv_records,
)
from regulake.feeds import load_feed

from .helpers import PENALTY_HEADER, Collect, penalty_row
from .helpers import read_bytes as _read


def _value(sink: Collect, record_no: int, feed_id: str, column: str):
    names = load_feed(feed_id).column_names
    row = next(r for r in sink.rows if r[0] == record_no)
    return row[1][names.index(column)]


# --- CSV record splitting ------------------------------------------------------------------


def test_split_keeps_quoted_line_breaks_and_escaped_quotes():
    lines = [b'a,"b', b'c ""q"" d",e', b"f,g,h", b'"x"",y",z', b'"u"",v,w']
    assert list(split_csv_records(lines)) == [
        (b'a,"b\nc ""q"" d",e', False), (b"f,g,h", False), (b'"x"",y",z', False), (b'"u"",v,w', True)]


def test_split_recovers_from_a_quote_that_never_closes():
    # The broken record is one line; the lines after it are records again (manifest counting).
    lines = [b'a,"b,c', b"d,e,f", b"g,h,i"]
    assert list(split_csv_records(lines)) == [(b'a,"b,c', True), (b"d,e,f", False), (b"g,h,i", False)]
    # ... also when the open quote passes the line limit mid-file.
    many = [b'a,"b'] + [b"x,y"] * 5
    assert list(split_csv_records(many, max_lines=3))[:2] == [(b'a,"b', True), (b"x,y", False)]
    assert len(list(split_csv_records(many, max_lines=3))) == 6


def test_quote_inside_an_unquoted_field_is_literal():
    assert list(split_csv_records([b'a,b"c,d', b"e,f,g"])) == [(b'a,b"c,d', False), (b"e,f,g", False)]


# --- CSV -----------------------------------------------------------------------------------


def test_csv_quoted_line_breaks_are_one_record():
    scope = '"一般项目：食品销售\n许可项目：药品零售"'
    data = ("uscc,ent_name,ent_type,legal_rep_name,establish_date,status,region_code,industry_code,"
            "business_scope,updated_at\n"
            f"91410105MA3CKJ4U5U,甲公司,有限责任公司,张三,2020-01-01,存续,410105,F52,{scope},2024-01-01 10:00:00\n"
            "91410105MA3CKJ4U5U,乙公司,有限责任公司,李四,2020-01-01,存续,410105,F52,,2024-01-02 10:00:00\n"
            ).encode()
    result, sink = _read(read_csv, "samr_enterprise", data)
    assert (result.records, result.landed, result.quarantined) == (2, 2, 0)
    assert _value(sink, 1, "samr_enterprise", "business_scope") == "一般项目：食品销售\n许可项目：药品零售"
    assert _value(sink, 2, "samr_enterprise", "ent_name") == "乙公司"
    assert _value(sink, 2, "samr_enterprise", "business_scope") == ""  # delivered empty
    assert _value(sink, 2, "samr_enterprise", "reg_no") is None  # column not delivered


def test_csv_crlf_and_bom():
    rows = ["SX1,(2024)豫0105执1号,张三,自然人,,郑州市中级人民法院,2024-01-01,已履行,,2024-01-01 10:00:00",
            "SX2,(2024)豫0105执2号,李四,1,,郑州市中级人民法院,2024-01-01,已履行,,2024-01-01 10:00:00"]
    header = ("record_id,case_code,party_name,party_type,party_id_no,court_name,publish_date,"
              "performance_status,removed_date,updated_at")
    data = "\ufeff".encode() + "\r\n".join([header, *rows, ""]).encode()
    result, sink = _read(read_csv, "court_dishonest", data)
    assert (result.records, result.landed, result.missing_required) == (2, 2, [])
    assert _value(sink, 1, "court_dishonest", "record_id") == "SX1"  # no BOM glued to the first header
    assert _value(sink, 2, "court_dishonest", "updated_at") == "2024-01-01 10:00:00"  # no trailing CR
    assert sink.rows[0][3] == hashlib.sha256(rows[0].encode()).hexdigest()  # hash of the record, sans CRLF


def test_csv_header_order_case_and_extra_column():
    header = PENALTY_HEADER.upper().replace("DECISION_NO", " Decision_No ") + ",remark"
    first, *rest = header.split(",")
    header = ",".join([*rest, first])  # decision_no moved to the end
    row = penalty_row(7).split(",")
    row = ",".join([*row[1:], "待核实", row[0]])
    result, sink = _read(read_csv, "samr_penalty", (header + "\n" + row + "\n").encode())
    assert result.landed == 1 and result.extra_columns == ["remark"]
    assert _value(sink, 1, "samr_penalty", "decision_no") == "郑市监罚〔2024〕7号"
    assert _value(sink, 1, "samr_penalty", "fine_amount") == "5000"
    assert sink.rows[0][2] == {"remark": "待核实"}


def test_csv_missing_required_column_stops_reading_but_hashes_everything():
    header = PENALTY_HEADER.replace(",severity", "")
    data = (header + "\n" + "x\n" * 1000).encode()
    result, sink = _read(read_csv, "samr_penalty", data)
    assert result.missing_required == ["severity"] and not result.parsed
    assert sink.rows == [] and sink.quarantined == []


def test_csv_parse_errors_wrong_field_count_and_broken_quoting():
    rows = [
        penalty_row(1),
        penalty_row(2) + ",extra",  # one field too many
        penalty_row(3).rsplit(",", 2)[0],  # two too few
        penalty_row(4, ent_name='"甲"乙公司'),  # a quote followed by text: broken quoting
        penalty_row(5),
        penalty_row(6, authority='"郑州市金水区'),  # quote never closed: the last record
    ]
    result, sink = _read(read_csv, "samr_penalty", ("\n".join([PENALTY_HEADER, *rows]) + "\n").encode())
    assert result.records == 6
    assert sink.codes() == [(2, PARSE_ERROR), (3, PARSE_ERROR), (4, PARSE_ERROR), (6, PARSE_ERROR)]
    assert [r[0] for r in sink.rows] == [1, 5]
    assert "expected 15 fields, found 16" in sink.quarantined[0][2]
    assert sink.quarantined[0][3] == rows[1]  # the raw record text is kept


def test_csv_blank_lines_are_not_records():
    data = ("\n".join([PENALTY_HEADER, penalty_row(1), "", penalty_row(2), "", ""])).encode()
    result, sink = _read(read_csv, "samr_penalty", data)
    assert result.records == 2 and [r[0] for r in sink.rows] == [1, 2]


def test_csv_header_only_has_no_records():
    result, _ = _read(read_csv, "samr_penalty", (PENALTY_HEADER + "\n").encode())
    assert (result.records, result.missing_required) == (0, [])


def _tax_csv(*records: bytes) -> bytes:
    header = "纳税人识别号,纳税人名称,评价年度,信用级别,欠税余额,更新日期".encode("gb18030")
    return b"\r\n".join([header, *records, b""])


def test_gb18030_decoding_per_record():
    good = "91410103MA3FNJJ63H,郑州好用科技有限公司,2021,A,0.00,2022/04/03".encode("gb18030")
    invalid = "91410103MA3FNJJ63H,郑州".encode("gb18030") + b"\xff\xfe" + ",2021,B,,2022/04/03".encode("gb18030")
    replacement = "91411503307388871Q,信\ufffd阳市润煜公司,2021,B,,2022/04/04".encode("gb18030")
    result, sink = _read(read_csv, "tax_credit", _tax_csv(good, invalid, replacement, good))
    assert result.records == 4
    assert sink.codes() == [(2, ENCODING_ERROR), (3, ENCODING_ERROR)]
    assert "\\xff" in sink.quarantined[0][3]  # undecodable bytes kept as escapes
    assert "U+FFFD" in sink.quarantined[1][2]
    assert _value(sink, 1, "tax_credit", "纳税人名称") == "郑州好用科技有限公司"


def test_utf8_encoding_error_in_csv():
    bad = penalty_row(2).encode().replace("创俊".encode(), b"\xe5\x88")  # truncated multi-byte sequence
    data = b"\n".join([PENALTY_HEADER.encode(), penalty_row(1).encode(), bad, penalty_row(3).encode()])
    result, sink = _read(read_csv, "samr_penalty", data)
    assert (result.records, sink.codes()) == (3, [(2, ENCODING_ERROR)])


def test_gb18030_file_read_as_utf8_header_fails_as_missing_columns():
    # A department that sends GB18030 where UTF-8 is declared gets a rejection, not garbage.
    data = (PENALTY_HEADER.replace("decision_no", "决定书文号") + "\n").encode("gb18030")
    result, _ = _read(read_csv, "samr_penalty", data)
    assert "decision_no" in result.missing_required


# --- JSONL ---------------------------------------------------------------------------------


def _event(n: int, **extra) -> str:
    body = {"event_id": f"EV{n}", "task_id": "XT1", "event_type": "handle", "from_dept": "RS",
            "at": "2024-01-01T10:00:00+08:00", "deadline": None, **extra}
    return json.dumps(body, ensure_ascii=False)


def test_jsonl_records_values_and_defects():
    lines = [
        _event(1, note="已核查", subject_uscc=None),
        "",
        "{'event_id': 'EV2'}",  # not JSON
        "[1, 2]",  # JSON, but not an object
        _event(4, AT="dup-case", weight=1.50, tags=["a", 1.0], flag=True),
        '{"event_id": "EV5", "task_id": "XT1", "event_type": "close", "from_dept": "RS", "at": "2024-01-02"}\r',
    ]
    data = "\n".join(lines).encode() + b"\n\xe4\xb8\n"  # the last record is not valid UTF-8
    result, sink = _read(read_jsonl, "coop_task_event", data)
    assert result.records == 6  # the blank line is not a record
    assert sink.codes() == [(2, PARSE_ERROR), (3, PARSE_ERROR), (6, ENCODING_ERROR)]
    assert _value(sink, 1, "coop_task_event", "note") == "已核查"
    assert _value(sink, 1, "coop_task_event", "subject_uscc") is None
    assert _value(sink, 4, "coop_task_event", "at") == "2024-01-01T10:00:00+08:00"  # first of at/AT wins
    assert sink.rows[1][2] == {"AT": "dup-case", "weight": "1.5", "tags": '["a",1.0]', "flag": "true"}
    assert _value(sink, 5, "coop_task_event", "event_type") == "close"
    assert result.extra_columns == ["AT", "flag", "tags", "weight"]
    assert result.missing_required == []


def test_jsonl_required_column_missing_from_every_record():
    data = "\n".join(json.dumps({"event_id": f"EV{i}", "task_id": "T", "event_type": "close",
                                 "from_dept": "RS"}) for i in range(3)).encode()
    result, _ = _read(read_jsonl, "coop_task_event", data)
    assert result.missing_required == ["at"]


def test_jsonl_numbers_keep_their_text():
    data = b'{"case_no": "X", "unit_code": "U", "unit_name": "N", "violation": "V", "fine": 5000.00, ' \
           b'"decision_date": "20220106", "updated_at": "2022-01-09", "severity": 3}\n'
    _, sink = _read(read_jsonl, "env_penalty", data)
    assert _value(sink, 1, "env_penalty", "fine") == "5000.00"
    assert _value(sink, 1, "env_penalty", "severity") == "3"


# --- XLSX ----------------------------------------------------------------------------------


def _xlsx(rows: list[list]) -> bytes:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    workbook.create_sheet("second")["A1"] = "ignored"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


PERSONNEL_HEADER = ["姓名", "身份证号", "执法证号", "部门编码", "部门名称", "行政区划", "执法领域", "状态", "更新时间"]


def test_xlsx_first_sheet_rows_after_header():
    from datetime import datetime

    data = _xlsx([
        PERSONNEL_HEADER,
        ["马秀英", "412721196604275781", "41010004000184", "HB", "郑州市生态环境局", 410100, "大气", "在岗",
         datetime(2019, 1, 2, 20, 19)],
        [None] * 9,  # an empty row is not a record
        ["王霞", None, "41150008000230", "WJ", None, "411500", None, "在岗", "2019/01/05 18:44"],
        ["坏\ufffd", None, "41150008000231", "WJ", None, "411500", None, "在岗", "2019/01/05"],
        ["多", None, "41150008000232", "WJ", None, "411500", None, "在岗", "2019/01/05", None, "溢出"],
    ])
    result, sink = _read(read_xlsx, "personnel", data)
    assert (result.records, result.landed) == (4, 2)
    assert sink.codes() == [(3, ENCODING_ERROR), (4, PARSE_ERROR)]
    assert _value(sink, 1, "personnel", "行政区划") == "410100"
    assert _value(sink, 1, "personnel", "更新时间") == "2019-01-02 20:19:00"
    assert _value(sink, 2, "personnel", "身份证号") is None
    assert json.loads(sink.quarantined[1][3])[-1] == "溢出"


def test_xlsx_header_case_and_missing_required():
    header = [h for h in PERSONNEL_HEADER if h != "状态"]
    result, _ = _read(read_xlsx, "personnel", _xlsx([header, ["a"] * len(header)]))
    assert result.missing_required == ["状态"]


@pytest.mark.parametrize("feed_id", ["samr_penalty", "coop_task_event"])
def test_empty_file_has_no_records(feed_id):
    reader = read_jsonl if feed_id == "coop_task_event" else read_csv
    result, sink = _read(reader, feed_id, b"")
    assert result.records == 0 and sink.rows == []
