"""Issue 18: a symbolic link in a local delivery is refused, never followed.

A sender who can write into the landing could link a delivery's file (or its manifest, the
delivery folder, the feed folder) to any server file. Landing must reject such a delivery with
a reason naming the link, read nothing the link points to, and never report the target's hash.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from jobs.landing import links
from jobs.landing.job import REJECTED, Delivery, classify, read_delivery
from regulake import storage
from regulake.feeds import load_feed

from .helpers import penalty_csv, penalty_row, write_delivery

PENALTY = load_feed("samr_penalty")
SECRET = "SECRET-〔2024〕999号"


def _secret_csv(n: int = 1) -> bytes:
    """A well-formed penalty file outside the landing root: it would load if a link were followed."""
    return penalty_csv(penalty_row(n, decision_no=f"{SECRET}{n}"))


def _outside(tmp_path: Path) -> Path:
    outside = tmp_path / "outside"
    outside.mkdir(exist_ok=True)
    return outside


def test_symlinks_in_a_delivery_are_rejected_and_nothing_outside_is_read(spark, lake, make_delivery, tmp_path):
    from jobs.landing import job as landing_job
    from tests.stages import context

    root = make_delivery.root
    outside = _outside(tmp_path)
    secret = outside / "secret.csv"
    secret.write_bytes(_secret_csv())
    secret_sha = hashlib.sha256(secret.read_bytes()).hexdigest()

    # 1. a data file that is a link (the manifest even holds the target's true checksum)
    linked_file = make_delivery("samr_penalty", "20240301", {"part-0001.csv": secret.read_bytes()})
    (linked_file / "part-0001.csv").unlink()
    (linked_file / "part-0001.csv").symlink_to(secret)
    # 2. the delivery folder itself is a link to a complete delivery elsewhere
    elsewhere = write_delivery(outside, "samr_penalty", "20240302", {"part-0001.csv": _secret_csv(2)})
    (root / "samr_penalty" / "20240302").symlink_to(elsewhere, target_is_directory=True)
    # 3. the manifest is a link (to a manifest elsewhere describing an honest-looking file)
    linked_manifest = make_delivery("samr_penalty", "20240303", {"part-0001.csv": penalty_csv(penalty_row(3))})
    (outside / "manifest.json").write_bytes((linked_manifest / "manifest.json").read_bytes())
    (linked_manifest / "manifest.json").unlink()
    (linked_manifest / "manifest.json").symlink_to(outside / "manifest.json")
    # 4. an honest delivery next to them still loads
    make_delivery("samr_penalty", "20240304", {"part-0001.csv": penalty_csv(penalty_row(4))})
    # 5. a whole feed folder that is a link to deliveries elsewhere
    write_delivery(outside / "feeds", "samr_penalty", "20240305", {"part-0001.csv": _secret_csv(5)})
    (root / "coop_task_event").symlink_to(outside / "feeds" / "samr_penalty", target_is_directory=True)

    def land(feed_id: str, run_id: str) -> dict:
        return landing_job.run(context(spark, lake, run_id, landing=root, feed_id=feed_id))

    result = land("samr_penalty", "run-1")
    decided = {d["batch_date"]: d for d in result["deliveries"]}
    assert {b: d["status"] for b, d in decided.items()} == {
        "20240301": REJECTED, "20240302": REJECTED, "20240303": REJECTED, "20240304": "loaded"}
    for batch, named in (("20240301", "part-0001.csv"), ("20240302", "samr_penalty/20240302"),
                         ("20240303", "manifest.json")):
        reason = decided[batch]["reason"]
        assert reason.startswith("symlink: ") and named in reason and "symbolic link" in reason, reason
        assert secret_sha not in reason
    feed_link = land("coop_task_event", "run-1")["deliveries"]
    assert [(d["status"], d["reason"].split(":")[0]) for d in feed_link] == [(REJECTED, "symlink")]
    assert "coop_task_event" in feed_link[0]["reason"]

    bronze = spark.read.format("delta").load(lake.table_path("bronze", "samr_penalty"))
    assert [r.decision_no for r in bronze.collect()] == ["郑市监罚〔2024〕4号"]
    for layer, table in (("bronze", "samr_penalty"), ("audit", "quarantine"), ("audit", "delivery_log")):
        path = lake.table_path(layer, table)
        if os.path.isdir(path):
            text = "\n".join(str(r) for r in spark.read.format("delta").load(path).collect())
            assert "SECRET" not in text and secret_sha not in text
    # Judged once: a rerun logs nothing new.
    assert land("samr_penalty", "run-2")["deliveries"] == []
    assert land("coop_task_event", "run-2")["deliveries"] == []


def test_a_link_planted_after_the_listing_is_not_followed(make_delivery, tmp_path):
    """The race: the folder was clean when listed and classified, a file became a link before it was read."""
    root = make_delivery.root
    folder = make_delivery("samr_penalty", "20240301", {"part-0001.csv": _secret_csv()})
    secret = _outside(tmp_path) / "secret.csv"
    secret.write_bytes(_secret_csv())
    delivery = Delivery(PENALTY.feed_id, folder.name, str(folder), storage.list_files(str(folder)))
    delivery = classify(PENALTY, delivery, {}, {}, (folder / "manifest.json").read_bytes())
    assert delivery.status is None  # a candidate
    (folder / "part-0001.csv").unlink()
    (folder / "part-0001.csv").symlink_to(secret)

    decided = read_delivery(PENALTY, delivery, str(tmp_path / "staging"), str(root))
    assert decided.status == REJECTED
    assert decided.reason.startswith("symlink: ") and "part-0001.csv" in decided.reason
    assert hashlib.sha256(secret.read_bytes()).hexdigest() not in decided.reason


def test_open_nofollow_refuses_links_and_escapes(make_delivery, tmp_path):
    root = make_delivery.root
    folder = make_delivery("samr_penalty", "20240301", {"part-0001.csv": b"data"})
    (folder / "link.csv").symlink_to(folder / "part-0001.csv")  # even a link inside the root
    with links.open_nofollow(str(root), "samr_penalty", "20240301", "part-0001.csv") as stream:
        assert stream.read() == b"data"
    with pytest.raises(links.SymlinkRefused, match="link.csv is a symbolic link"):
        links.open_nofollow(str(root), "samr_penalty", "20240301", "link.csv")
    with pytest.raises(links.SymlinkRefused):
        links.open_nofollow(str(root), "samr_penalty", "..", "..", "outside")
    os.mkfifo(folder / "pipe.csv")
    with pytest.raises(links.SymlinkRefused, match="not a regular file"):  # and it does not block
        links.open_nofollow(str(root), "samr_penalty", "20240301", "pipe.csv")
    assert links.symlinks(str(root), "samr_penalty", "20240301") == ["link.csv"]
    assert links.symlinks("s3a://bucket/landing", "samr_penalty", "20240301") == []
