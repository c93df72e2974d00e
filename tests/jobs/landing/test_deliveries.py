"""Delivery-level rules of standard §1, decided without Spark: manifest, classification, file checks."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from jobs.landing.job import (
    DUPLICATE,
    INCOMPLETE,
    LOADED,
    REJECTED,
    Delivery,
    classify,
    discover,
    read_delivery,
)
from jobs.landing.manifest import ManifestError, content_delivery_id, parse_manifest
from regulake import storage
from regulake.feeds import load_feed

from .helpers import PENALTY_HEADER, penalty_csv, penalty_row

PENALTY = load_feed("samr_penalty")


def _manifest(**override) -> bytes:
    body = {"feed_id": "samr_penalty", "batch_date": "20240301", "mode": "incremental",
            "files": [{"name": "part-0001.csv", "rows": 2, "sha256": "ab" * 32}]}
    body.update(override)
    return json.dumps(body).encode()


# --- manifest ------------------------------------------------------------------------------


def test_valid_manifest():
    manifest = parse_manifest(_manifest(produced_at="2024-03-01T23:10:00+08:00"), "samr_penalty")
    assert (manifest.batch_date, manifest.mode, manifest.rows) == ("20240301", "incremental", 2)
    assert manifest.files[0].sha256 == "ab" * 32


@pytest.mark.parametrize(
    "data, code",
    [
        (b'{"feed_id": "samr_penalty", ', "manifest_invalid"),
        (b"[]", "manifest_invalid"),
        (b"\xff\xfe", "manifest_invalid"),
        (_manifest(feed_id="env_penalty"), "manifest_feed_mismatch"),
        (_manifest(batch_date="2024-03-01"), "manifest_invalid"),
        (_manifest(mode="delta"), "manifest_invalid"),
        (_manifest(files=[]), "manifest_invalid"),
        (_manifest(files=[{"name": "../x.csv", "rows": 1, "sha256": "ab" * 32}]), "manifest_invalid"),
        (_manifest(files=[{"name": "a.csv", "rows": -1, "sha256": "ab" * 32}]), "manifest_invalid"),
        (_manifest(files=[{"name": "a.csv", "rows": True, "sha256": "ab" * 32}]), "manifest_invalid"),
        (_manifest(files=[{"name": "a.csv", "rows": 1, "sha256": "xyz"}]), "manifest_invalid"),
        (_manifest(files=[{"name": "a.csv", "rows": 1, "sha256": "ab" * 32}] * 2), "manifest_invalid"),
    ],
)
def test_invalid_manifest(data, code):
    with pytest.raises(ManifestError) as caught:
        parse_manifest(data, "samr_penalty")
    assert caught.value.code == code


def test_delivery_id_is_the_content_digest():
    one = content_delivery_id("f", "20240301", [("a.csv", "AA"), ("b.csv", "bb")])
    assert one == content_delivery_id("f", "20240301", [("b.csv", "BB"), ("a.csv", "aa")])  # order, case
    assert one != content_delivery_id("f", "20240302", [("a.csv", "aa"), ("b.csv", "bb")])
    assert one != content_delivery_id("f", "20240301", [("a.csv", "aa"), ("b.csv", "bc")])
    assert one != content_delivery_id("g", "20240301", [("a.csv", "aa"), ("b.csv", "bb")])


# --- classification ------------------------------------------------------------------------


def _delivery(folder: Path, feed_id: str = "samr_penalty") -> tuple[Delivery, bytes | None]:
    manifest = folder / "manifest.json"
    delivery = Delivery(feed_id, folder.name, str(folder), storage.list_files(str(folder)))
    return delivery, manifest.read_bytes() if manifest.exists() else None


def _classify(folder: Path, logged=None, in_run=None) -> Delivery:
    delivery, manifest = _delivery(folder)
    return classify(PENALTY, delivery, logged or {}, {} if in_run is None else in_run, manifest)


def test_incomplete_is_logged_once_until_the_folder_changes(make_delivery):
    folder = make_delivery("samr_penalty", "20240301", {"part-0001.csv": penalty_csv(penalty_row(1))},
                           manifest=False)
    first = _classify(folder)
    assert (first.status, first.logged) == (INCOMPLETE, True)
    assert first.reason.startswith("missing_manifest")
    again = _classify(folder, logged={(first.delivery_id, INCOMPLETE): first.location})
    assert (again.status, again.logged, again.delivery_id) == (INCOMPLETE, False, first.delivery_id)
    (folder / "part-0002.csv").write_bytes(b"more")  # still being written: judged (and logged) again
    changed = _classify(folder, logged={(first.delivery_id, INCOMPLETE): first.location})
    assert (changed.status, changed.logged) == (INCOMPLETE, True)
    assert changed.delivery_id != first.delivery_id


def test_manifest_arriving_later_makes_a_candidate(make_delivery):
    folder = make_delivery("samr_penalty", "20240301", {"part-0001.csv": penalty_csv(penalty_row(1))},
                           manifest=False)
    incomplete = _classify(folder)
    make_delivery("samr_penalty", "20240301", {"part-0001.csv": penalty_csv(penalty_row(1))})
    candidate = _classify(folder, logged={(incomplete.delivery_id, INCOMPLETE): incomplete.location})
    assert candidate.status is None and candidate.delivery_id == candidate.manifest.delivery_id


@pytest.mark.parametrize(
    "manifest, code",
    [(b"not json", "manifest_invalid"), ({"feed_id": "license"}, "manifest_feed_mismatch")],
)
def test_untrustworthy_manifest_rejects(make_delivery, manifest, code):
    folder = make_delivery("samr_penalty", "20240301", {"part-0001.csv": penalty_csv(penalty_row(1))},
                           manifest=manifest)
    decided = _classify(folder)
    assert decided.status == REJECTED and decided.reason.startswith(code + ":")
    unchanged = _classify(folder, logged={(decided.delivery_id, REJECTED): decided.location})
    assert unchanged.logged is False


def test_same_content_elsewhere_is_a_duplicate(make_delivery):
    files = {"part-0001.csv": penalty_csv(penalty_row(1))}
    original = make_delivery("samr_penalty", "20240301", files)
    copy = make_delivery("samr_penalty", "20240301", files, folder="20240301_resent")
    loaded = _classify(original)
    logged = {(loaded.delivery_id, LOADED): loaded.location}
    assert _classify(original, logged=logged).logged is False  # the loaded folder itself: nothing to do
    duplicate = _classify(copy, logged=logged)
    assert (duplicate.status, duplicate.logged, duplicate.delivery_id) == (DUPLICATE, True, loaded.delivery_id)
    assert duplicate.reason.startswith("already_loaded:") and str(original) in duplicate.reason
    logged[(loaded.delivery_id, DUPLICATE)] = str(copy)
    assert _classify(copy, logged=logged).logged is False  # a duplicate is logged once
    # Within one run: the second copy is the duplicate of the first candidate.
    in_run: dict[str, str] = {}
    assert _classify(original, in_run=in_run).status is None
    assert _classify(copy, in_run=in_run).status == DUPLICATE


def test_different_batch_is_not_a_duplicate(make_delivery):
    files = {"part-0001.csv": penalty_csv(penalty_row(1))}
    first = _classify(make_delivery("samr_penalty", "20240301", files))
    resent = _classify(make_delivery("samr_penalty", "20240401", files),
                       logged={(first.delivery_id, LOADED): first.location})
    assert resent.status is None


# --- reading a candidate -------------------------------------------------------------------


def _read(folder: Path, tmp_path: Path) -> Delivery:
    delivery = _classify(folder)
    assert delivery.status is None
    return read_delivery(PENALTY, delivery, str(tmp_path / "staging" / folder.name))


def test_loaded_delivery_is_staged_with_lineage(make_delivery, tmp_path):
    lines = [PENALTY_HEADER + ",remark", penalty_row(1) + ",note", penalty_row(2) + ",x,y", penalty_row(3) + ","]
    data = ("\n".join(lines) + "\n").encode()
    folder = make_delivery("samr_penalty", "20240301", {"part-0001.csv": data}, rows={"part-0001.csv": 3})
    delivery = _read(folder, tmp_path)
    assert (delivery.status, delivery.rows_landed, delivery.rows_quarantined) == (LOADED, 2, 1)
    assert delivery.reason == "extra_columns: remark"
    rows = pq.read_table(delivery.staging.bronze_dir).to_pylist()
    assert [(r["_record_no"], r["decision_no"], r["_extra"]) for r in rows] == [
        (1, "郑市监罚〔2024〕1号", [("remark", "note")]), (3, "郑市监罚〔2024〕3号", [("remark", "")])]
    assert {(r["_feed_id"], r["_batch_date"], r["_file_name"], r["_delivery_id"]) for r in rows} == {
        ("samr_penalty", "20240301", "part-0001.csv", delivery.delivery_id)}
    quarantine = pq.read_table(delivery.staging.quarantine_dir).to_pylist()
    assert [(q["record_no"], q["reason_code"], q["stage"]) for q in quarantine] == [(2, "parse_error", "landing")]


def test_missing_file_rejects(make_delivery, tmp_path):
    folder = make_delivery("samr_penalty", "20240301", {"part-0001.csv": penalty_csv(penalty_row(1)),
                                                         "part-0002.csv": penalty_csv(penalty_row(2))})
    (folder / "part-0002.csv").unlink()
    delivery = _read(folder, tmp_path)
    assert delivery.status == REJECTED
    assert delivery.reason == "missing_file: listed in the manifest but not delivered: part-0002.csv"


def test_sha256_mismatch_rejects_and_drops_staging(make_delivery, tmp_path):
    folder = make_delivery("samr_penalty", "20240301", {"part-0001.csv": penalty_csv(penalty_row(1)),
                                                         "part-0002.csv": penalty_csv(penalty_row(2))})
    (folder / "part-0002.csv").write_bytes(penalty_csv(penalty_row(3)))  # same size, other content
    delivery = _read(folder, tmp_path)
    assert delivery.status == REJECTED and delivery.reason.startswith("sha256_mismatch: part-0002.csv")
    assert delivery.staging is None and not (tmp_path / "staging" / "20240301").exists()


def test_row_count_mismatch_rejects(make_delivery, tmp_path):
    # Two lines but one record: a quoted line break. A manifest that counted lines is wrong.
    data = penalty_csv(penalty_row(1, legal_basis='"第一条\n第二条"'))
    folder = make_delivery("samr_penalty", "20240301", {"part-0001.csv": data}, rows={"part-0001.csv": 2})
    delivery = _read(folder, tmp_path)
    assert delivery.status == REJECTED
    assert delivery.reason == "row_count_mismatch: part-0001.csv: manifest 2 rows, file holds 1 records"


def test_missing_required_column_rejects(make_delivery, tmp_path):
    header = PENALTY_HEADER.replace("decision_date,", "")
    row = penalty_row(1).replace(",2024-03-20,", ",")
    folder = make_delivery("samr_penalty", "20240301", {"part-0001.csv": penalty_csv(row, header=header)})
    delivery = _read(folder, tmp_path)
    assert delivery.status == REJECTED
    assert delivery.reason == "missing_required_column: part-0001.csv: decision_date"


def test_missing_optional_column_is_fine(make_delivery, tmp_path):
    header = PENALTY_HEADER.replace("legal_basis,", "")
    row = penalty_row(1).replace(",发布违法广告,,", ",发布违法广告,")
    folder = make_delivery("samr_penalty", "20240301", {"part-0001.csv": penalty_csv(row, header=header)})
    delivery = _read(folder, tmp_path)
    assert (delivery.status, delivery.reason) == (LOADED, None)
    assert pq.read_table(delivery.staging.bronze_dir).column("legal_basis").to_pylist() == [None]


def test_discover_lists_known_feeds_only(make_delivery):
    make_delivery("samr_penalty", "20240301", {"part-0001.csv": penalty_csv(penalty_row(1))})
    make_delivery("license", "20240301", {"part-0001.csv": b"x\n"}, manifest=False)
    (make_delivery.root / "not_a_feed").mkdir()
    assert discover(str(make_delivery.root)) == ["license", "samr_penalty"]


def test_discover_names_a_landing_root_that_does_not_exist(tmp_path):
    from jobs.landing.job import LandingRootMissing

    with pytest.raises(LandingRootMissing, match=f"landing root {tmp_path / 'nowhere'} does not exist"):
        discover(str(tmp_path / "nowhere"))


def test_storage_resolves_local_and_object_store_uris(tmp_path):
    import pyarrow.fs as pafs

    fs, path = storage.resolve("s3a://regulake-landing/landing/samr_penalty")
    assert isinstance(fs, pafs.S3FileSystem) and path == "regulake-landing/landing/samr_penalty"
    fs, path = storage.resolve(f"file://{tmp_path}")
    assert isinstance(fs, pafs.LocalFileSystem) and path == str(tmp_path)
    with pytest.raises(ValueError):
        storage.resolve("hdfs://namenode/landing")
    assert storage.list_dirs(str(tmp_path / "missing")) == [] and storage.list_files(str(tmp_path / "x")) == []


def test_s3_options_come_from_the_lakes_s3a_settings():
    conf = {"spark.hadoop.fs.s3a.endpoint": "http://minio:9000", "spark.hadoop.fs.s3a.access.key": "k",
            "spark.hadoop.fs.s3a.secret.key": "s"}
    assert storage.s3_options(conf, {}) == {
        "endpoint_override": "minio:9000", "scheme": "http", "access_key": "k", "secret_key": "s"}
    assert storage.s3_options({}, {"AWS_ENDPOINT_URL": "https://s3.example"}) == {
        "endpoint_override": "s3.example", "scheme": "https"}
    assert storage.s3_options({}, {}) == {}
