"""Issue 18: a gate failure stores, raises and renders no raw personal data (RIC, names of natural persons)."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.silver import job as silver_job
from jobs.silver.gate import GateFailed
from jobs.silver.personal import mask_rics_in_text, mask_value, personal_columns
from regulake.feeds import load_feed
from regulake.identifiers import ric_check_char
from tests.stages import context

from .helpers import FakeLanding


def _bad_ric(n: int) -> str:
    first17 = f"41010519800101{n:03d}"
    good = ric_check_char(first17)
    return first17 + ("0" if good != "0" else "1")  # a RIC whose check digit fails


def test_personal_columns_and_masks():
    assert personal_columns(load_feed("court_dishonest")) == {"party_id_no": "ric", "party_name": "name"}
    assert personal_columns(load_feed("personnel")) == {"id_no": "ric", "name": "name"}
    assert personal_columns(load_feed("samr_enterprise")) == {"legal_rep_id_no": "ric", "legal_rep_name": "name"}
    assert mask_value("410105198001011234", "ric") == "4101**********1234"
    assert mask_value("欧阳娜娜", "name") == "欧***"
    assert mask_rics_in_text("x: 41010519800101123X; 9141010200000006XL") == "x: 4101**********123X; 9141010200000006XL"


def test_a_held_delivery_keeps_no_raw_ric_or_name(spark, lake):
    landing = FakeLanding(spark, lake, "court_dishonest")
    rics = [_bad_ric(n) for n in range(1, 11)]
    names = [f"测试人{'甲乙丙丁戊己庚辛壬癸'[n]}" for n in range(10)]
    records = [{"record_id": f"D{n}", "case_code": f"(2024)豫0105执{n}号", "party_name": names[n],
                "party_type": "2", "party_id_no": rics[n], "court_name": "金水区人民法院",
                "publish_date": "" if n < 6 else "2024-01-05", "performance_status": "全部未履行",
                "updated_at": "2024-01-10 10:00:00"} for n in range(10)]
    landing.deliver("20240201", records)
    with pytest.raises(GateFailed) as failure:
        silver_job.run(context(spark, lake, "run-1", feed_id="court_dishonest"))
    message = str(failure.value)
    assert "expect_column_values_to_be_valid_party_id(column=party_id_no" in message
    assert "'4101**********00" in message  # the examples shown masked, not dropped

    gate = spark.read.format("delta").load(lake.table_path("audit", "gate_result")).collect()
    stored = "\n".join(str(r.asDict()) for r in gate)
    docs_root = Path(lake.lake_root.removeprefix("file://"), "_data_docs")
    pages = [p for p in docs_root.rglob("*") if p.is_file()]
    assert any(p.suffix == ".html" for p in pages)
    docs = "\n".join(p.read_text(encoding="utf-8", errors="ignore") for p in pages)
    assert "4101**********" in docs  # the docs show the unexpected values, masked
    for where, text in (("message", message), ("audit.gate_result", stored), ("Data Docs", docs)):
        for value in rics + names:
            assert value not in text, f"{value} in {where}"
