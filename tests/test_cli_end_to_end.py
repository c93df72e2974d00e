"""The CLI end to end on a tiny generated landing: generate → run (the real DAG) → status → sql → rerun."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REGULAKE = str(Path(sys.executable).with_name("regulake"))

pytestmark = pytest.mark.slow


def _cli(*args: str, timeout: int = 1800) -> subprocess.CompletedProcess:
    env = os.environ.copy()
    env["REGULAKE__SPARK__MASTER"] = "local[2]"
    result = subprocess.run([REGULAKE, *args], capture_output=True, text=True, env=env, timeout=timeout)
    assert result.returncode == 0, f"regulake {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
    return result


def _sql_json(lake: Path, query: str) -> list[dict]:
    result = _cli("sql", query, "--lake", str(lake), "--format", "json")
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("generated")
    _cli("generate", "--out", str(out), "--enterprises", "300", "--batches", "2", "--seed", "11", "--no-progress")
    return out


def _table_versions(lake: Path) -> dict[str, int]:
    """Latest Delta commit number of every table in the lake."""
    versions = {}
    for log in sorted(lake.glob("*/*/_delta_log")):
        commits = [int(p.stem) for p in log.glob("*.json") if p.stem.isdigit()]
        versions[f"{log.parent.parent.name}.{log.parent.name}"] = max(commits)
    return versions


def test_generate_run_status_sql_and_rerun(generated, tmp_path):
    import pandas as pd

    lake = tmp_path / "lake"
    _cli("run", "--landing", str(generated / "landing"), "--lake", str(lake), "--as-of", "2024-03-31")

    # every delivery the generator wrote is in the delivery log with the status its truth expects
    truth = pd.read_parquet(generated / "truth" / "deliveries.parquet")
    logged = {
        (row["feed_id"], row["batch_date"]): row["status"]
        for row in _sql_json(lake, "SELECT feed_id, batch_date, status FROM audit.delivery_log")
    }
    first = truth[truth.landing == "landing"]
    expected = {(r.feed_id, r.batch_date): r.expected_status for r in first.itertuples()}
    assert logged == expected

    # an identical delivery sent again (under a second landing root) is a no-op logged as duplicate
    # ... and while that run is going, an analyst queries the same lake from another process
    bronze_before_resend = _table_versions(lake)
    env = os.environ.copy()
    env["REGULAKE__SPARK__MASTER"] = "local[2]"
    resend = subprocess.Popen(
        [REGULAKE, "run", "--landing", str(generated / "landing_resend"), "--lake", str(lake), "--as-of", "2024-03-31"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    try:
        tables = _cli("sql", "SHOW TABLES IN audit", "--lake", str(lake), "--format", "csv").stdout
        assert "delivery_log" in tables
        assert resend.poll() is None, "the run ended before the query: no overlap was tested"
        output, _ = resend.communicate(timeout=1800)
    finally:
        if resend.poll() is None:
            resend.kill()
    assert resend.returncode == 0, output[-5000:]
    resent = truth[truth.landing == "landing_resend"]
    duplicates = {
        (row["feed_id"], row["batch_date"])
        for row in _sql_json(lake, "SELECT feed_id, batch_date FROM audit.delivery_log WHERE status = 'duplicate'")
    }
    assert duplicates == {(r.feed_id, r.batch_date) for r in resent.itertuples()}
    assert {t: v for t, v in _table_versions(lake).items() if t.startswith("bronze.")} == {
        t: v for t, v in bronze_before_resend.items() if t.startswith("bronze.")
    }

    status = _cli("status", "--lake", str(lake)).stdout
    assert "bronze.samr_enterprise" in status and "loaded" in status

    # a second run over the same landing changes nothing
    before = _table_versions(lake)
    bronze_rows = _sql_json(lake, "SELECT count(*) AS n FROM bronze.samr_enterprise")
    _cli("run", "--landing", str(generated / "landing"), "--lake", str(lake), "--as-of", "2024-03-31")
    after = _table_versions(lake)
    changed = {t for t in before if before[t] != after.get(t) and t != "audit.pipeline_run"}
    assert changed == set(), f"a rerun committed to {sorted(changed)}"
    assert _sql_json(lake, "SELECT count(*) AS n FROM bronze.samr_enterprise") == bronze_rows


def test_run_fails_clearly_on_a_missing_landing(tmp_path):
    env = os.environ.copy()
    result = subprocess.run(
        [REGULAKE, "run", "--landing", str(tmp_path / "nope"), "--lake", str(tmp_path / "lake")],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert result.returncode != 0
    assert "nope" in result.stderr + result.stdout
