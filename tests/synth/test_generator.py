"""The generator writes deliveries that follow the standard, deterministically, with the truth."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from regulake.identifiers import is_valid_ric, is_valid_uscc
from synth.generator import generate
from synth.generator.specs import FEEDS, delivery_mode

from .conftest import landing_files

ARCH_ENTERPRISES = ["uscc", "ent_name", "region_code", "industry_code", "status", "key_field", "reg_no", "org_code",
                    "legal_rep_name", "legal_rep_ric", "hidden_risk", "hidden_class"]
ARCH_RECORDS = ["feed_id", "batch_date", "file_name", "record_no", "record_key", "entity_id", "id_kind",
                "name_variant", "defect"]


def test_same_seed_same_bytes(small_run, tmp_path):
    again = generate(tmp_path / "again", 300, 3, seed=11, progress=False, workers=1)
    assert landing_files(small_run.landing) == landing_files(again.landing)
    assert landing_files(small_run.out / "landing_resend") == landing_files(again.out / "landing_resend")
    for name in ("enterprises", "records", "deliveries", "inspections_future"):
        left = pd.read_parquet(small_run.truth / f"{name}.parquet")
        right = pd.read_parquet(again.truth / f"{name}.parquet")
        pd.testing.assert_frame_equal(left, right)


def test_other_seed_other_data(small_run, tmp_path):
    other = generate(tmp_path / "other", 300, 3, seed=12, progress=False, workers=1)
    assert landing_files(small_run.landing) != landing_files(other.landing)


def test_all_feeds_and_batches_delivered(small_run):
    assert small_run.batch_dates == ["20240131", "20240229", "20240331"]
    for feed_id in FEEDS:
        folders = sorted(p.name for p in (small_run.landing / feed_id).iterdir())
        assert folders == small_run.batch_dates, feed_id
    assert sum(small_run.records_by_feed.values()) == small_run.records


def test_manifests(small_run):
    deliveries = pd.read_parquet(small_run.truth / "deliveries.parquet")
    records = pd.read_parquet(small_run.truth / "records.parquet").drop_duplicates(
        ["feed_id", "batch_date", "file_name", "record_no"])
    planted = {(r.feed_id, r.batch_date): r.defect for r in deliveries.itertuples() if r.landing == "landing"}
    for folder in sorted(small_run.landing.glob("*/*")):
        feed, batch = folder.parent.name, folder.name
        defect = planted.get((feed, batch))
        manifest_path = folder / "manifest.json"
        if defect == "missing_manifest":
            assert not manifest_path.exists()
            continue
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        assert set(manifest) == {"feed_id", "batch_date", "mode", "files", "produced_at"}
        assert manifest["feed_id"] == feed and manifest["batch_date"] == batch
        assert re.fullmatch(rf"{batch[:4]}-{batch[4:6]}-{batch[6:]}T2[1-3]:\d\d:00\+08:00", manifest["produced_at"])
        assert manifest["mode"] == delivery_mode(FEEDS[feed], small_run.batch_dates.index(batch))
        for entry in manifest["files"]:
            assert re.fullmatch(rf"part-\d{{4}}\.{FEEDS[feed].file_extension}", entry["name"])
            part = folder / entry["name"]
            assert part.stat().st_mtime_ns <= manifest_path.stat().st_mtime_ns  # manifest written last
            truth_rows = int(((records.feed_id == feed) & (records.batch_date == batch)
                              & (records.file_name == entry["name"])).sum())
            expected_rows = truth_rows + (1 if defect == "wrong_row_count" else 0)
            assert entry["rows"] == expected_rows, (feed, batch)
            assert len(entry["sha256"]) == 64


def test_file_encodings_and_headers(small_run):
    court = (small_run.landing / "court_dishonest/20240131/part-0001.csv").read_bytes()
    assert court.startswith(b"\xef\xbb\xbf")
    tax = (small_run.landing / "tax_credit/20240131/part-0001.csv").read_bytes()
    assert tax.split(b"\n")[0].decode("gb18030") == ",".join(FEEDS["tax_credit"].column_names)
    with pytest.raises(UnicodeDecodeError):
        tax.decode("utf-8")
    book = openpyxl.load_workbook(small_run.landing / "personnel/20240131/part-0001.xlsx", read_only=True)
    header = next(book.worksheets[0].iter_rows(values_only=True))
    assert list(header) == FEEDS["personnel"].column_names
    for line in (small_run.landing / "sentiment/20240131/part-0001.jsonl").read_text(encoding="utf-8").splitlines()[:20]:
        assert line.startswith("{")
    enterprise = (small_run.landing / "samr_enterprise/20240131/part-0001.csv").read_text(encoding="utf-8")
    scopes = [r[13] for r in csv.reader(io.StringIO(enterprise, newline="")) if len(r) == 16]
    assert any("\n" in s for s in scopes), "business_scope with a quoted line break"


def test_truth_files_have_the_architecture_columns(small_run):
    enterprises = pd.read_parquet(small_run.truth / "enterprises.parquet")
    assert set(ARCH_ENTERPRISES) <= set(enterprises.columns)
    assert len(enterprises) == 300 and enterprises.uscc.map(is_valid_uscc).all()
    assert enterprises.legal_rep_ric.map(is_valid_ric).all()
    assert set(enterprises.hidden_class) <= set("ABCD")
    records = pd.read_parquet(small_run.truth / "records.parquet")
    assert set(ARCH_RECORDS) <= set(records.columns)
    deliveries = pd.read_parquet(small_run.truth / "deliveries.parquet")
    assert {"feed_id", "batch_date", "expected_status", "reason"} <= set(deliveries.columns)
    assert set(deliveries.expected_status) <= {"loaded", "rejected", "incomplete", "duplicate"}
    future = pd.read_parquet(small_run.truth / "inspections_future.parquet")
    assert list(future.columns) == ["uscc", "inspection_date", "problem_found"]
    assert future.uscc.isin(enterprises.uscc).all()


def test_record_keys_are_normalised(small_run):
    records = pd.read_parquet(small_run.truth / "records.parquet")
    ok = records[records.defect.isna()]
    ar = ok[ok.feed_id == "samr_annual_report"].record_key
    assert ar.str.fullmatch(r"[0-9A-Z]{18}\|\d{4}").all()
    hrss = ok[ok.feed_id == "hrss_social_insurance"].record_key
    assert hrss.str.fullmatch(r"[0-9A-Z]{9,18}\|\d{4}-\d{2}").all()
    sent = records[(records.feed_id == "sentiment") & records.mention_pos.notna()]
    assert (sent.record_key.str.rsplit("|", n=1).str[1].astype(int) == sent.mention_pos).all()
    linked = ok[ok.id_kind == "uscc"]
    assert linked.entity_id.notna().all()


EVERY_DEFECT = {"parse_error", "encoding_error", "missing_required", "invalid_key", "invalid_value",
                "optional_invalid", "check_digit", "duplicate"}
EVERY_NAME_VARIANT = {"exact", "drop_region", "legal_form", "branch", "abbreviation", "homophone", "traditional",
                      "decoy", "unregistered", "twin", "trade_only", "owner_shop", "lookalike"}
EVERY_VARIANT_FAMILY = {"id_lowercase", "id_fullwidth", "id_padded", "text_padded", "region_fullwidth", "date_",
                        "timestamp_", "amount_", "industry_", "enum_other_form", "status_zaiye", "list_",
                        "boolean_other_form", "month_compact"}


def test_every_record_defect_kind_is_planted(defect_run):
    records = pd.read_parquet(defect_run.truth / "records.parquet")
    assert EVERY_DEFECT <= set(records.defect.dropna())
    assert EVERY_NAME_VARIANT <= set(records.name_variant.dropna())
    assert {"uscc", "org_code", "tax_id", "ric", "name", "none"} <= set(records.id_kind)
    tags = set(records.variants.dropna().str.split(",").explode())
    for family in EVERY_VARIANT_FAMILY:
        assert any(t.startswith(family) for t in tags), family
    assert {"accepted", "duplicate", "quarantined", "not_loaded"} == set(records.expected)
    # Low rates: quarantined records are well under 2% of the delivered ones.
    assert (records.expected == "quarantined").mean() < 0.02
    # Unregistered businesses, decoys and look-alikes refer to no enterprise.
    assert records[records.name_variant.isin(["unregistered", "decoy", "lookalike"])].entity_id.isna().all()
    assert records[records.name_variant.isin(["trade_only", "owner_shop"])].entity_id.notna().all()
    # Standard v1.1 §2: identifier keys failing their check are planted as invalid_key beyond samr_enterprise.
    bad_keys = records[(records.defect == "invalid_key")
                       & records.feed_id.isin(["samr_annual_report", "tax_credit", "hrss_social_insurance"])]
    first_parts = bad_keys.record_key.str.split("|").str[0]
    assert (~first_parts[first_parts.str.len() == 18].map(is_valid_uscc)).any()


def test_every_delivery_defect_kind_is_planted(defect_run, long_run):
    kinds = set()
    for run in (defect_run, long_run):
        kinds |= set(pd.read_parquet(run.truth / "deliveries.parquet").defect.dropna())
    assert kinds >= {"wrong_sha256", "wrong_row_count", "missing_required_column", "missing_manifest", "missing_file",
                     "manifest_invalid_json", "manifest_wrong_feed", "header_order", "header_case",
                     "header_extra_column", "resent_duplicate"}
    deliveries = pd.read_parquet(defect_run.truth / "deliveries.parquet")
    assert (deliveries.expected_status == "loaded").mean() > 0.8
    assert not deliveries[deliveries.batch_date == "20240131"].defect.notna().any()


def test_rejected_deliveries_are_resent_next_batch(defect_run):
    deliveries = pd.read_parquet(defect_run.truth / "deliveries.parquet")
    records = pd.read_parquet(defect_run.truth / "records.parquet")
    bad = deliveries[deliveries.expected_status.isin(["rejected", "incomplete"])]
    assert len(bad)
    for d in bad.itertuples():
        mine = records[(records.feed_id == d.feed_id) & (records.batch_date == d.batch_date)]
        assert (mine.expected == "not_loaded").all()
        nxt = defect_run.batch_dates[defect_run.batch_dates.index(d.batch_date) + 1]
        later = records[(records.feed_id == d.feed_id) & (records.batch_date == nxt)]
        assert set(mine.record_key) <= set(later.record_key)
        resent = later[later.record_key.isin(set(mine.record_key))]
        assert not (resent.defect == "duplicate").any()
    resend = deliveries[deliveries.landing == "landing_resend"].iloc[0]
    src = defect_run.landing / resend.feed_id / resend.batch_date
    dst = defect_run.out / "landing_resend" / resend.feed_id / resend.batch_date
    assert landing_files(src) == landing_files(dst)


def _jsonl(path: Path) -> list[dict]:
    out = []
    for line in path.read_bytes().decode("utf-8", errors="replace").splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            out.append(value)
    return out


def test_versions_revocations_and_late_events(defect_run):
    records = pd.read_parquet(defect_run.truth / "records.parquet")
    accepted = records[records.expected == "accepted"].drop_duplicates(["feed_id", "batch_date", "file_name",
                                                                         "record_no"])
    versions = accepted.groupby(["feed_id", "record_key"]).size()
    assert (versions > 1).sum() > 10, "newer versions of records"
    penalties = pd.concat(pd.read_csv(p, dtype=str, keep_default_na=False, on_bad_lines="skip")
                          for p in defect_run.landing.glob("samr_penalty/*/part-*.csv"))
    assert penalties.publicity_status.isin(["1", "2"]).any(), "penalties later revoked"
    events = _jsonl(defect_run.landing / "coop_task_event/20240229/part-0001.jsonl")
    ats = [e["at"] for e in events if isinstance(e.get("at"), str)]
    assert ats != sorted(ats), "task events out of order"
    assert any(a < "2024-01-31T20" for a in ats), "task events that arrive a batch late"


def test_hidden_risk_drives_signals_and_future_inspections(defect_run):
    ent = pd.read_parquet(defect_run.truth / "enterprises.parquet")
    future = pd.read_parquet(defect_run.truth / "inspections_future.parquet").merge(ent, on="uscc")
    rates = future.groupby("hidden_class").problem_found.mean()
    assert rates["A"] < 0.08 and 0.25 < rates["B"] < 0.55 and rates["D"] > 0.7
    assert rates["A"] < rates["B"] < rates["C"] < rates["D"]
    records = pd.read_parquet(defect_run.truth / "records.parquet")
    pens = records[(records.feed_id == "samr_penalty")].drop_duplicates("record_key").entity_id.value_counts()
    per_class = ent.assign(n=ent.uscc.map(pens).fillna(0)).groupby("hidden_class").n.mean()
    assert per_class["D"] > 3 * per_class["A"]


def test_volume_per_enterprise_month(defect_run):
    # About two records per enterprise and month across the feeds (24 a year); the first batch adds history.
    records = pd.read_parquet(defect_run.truth / "records.parquet").drop_duplicates(
        ["feed_id", "batch_date", "file_name", "record_no"])
    monthly = records[records.batch_date != "20240131"]
    per_enterprise_month = len(monthly) / 2000 / 2
    assert 1.5 <= per_enterprise_month <= 3.0
    assert (records.batch_date == "20240131").sum() > len(monthly) / 2
