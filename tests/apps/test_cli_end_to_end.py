"""The CLI end to end: run (the real DAG) over a landing → gold; sql while a run writes; status; rerun.

The run is the session's `pipeline_lake` (tests/pipeline.py: the shared samples, defects included,
else a small generated landing). Its tables are read in this process's Spark session, with the
lake's catalog attached as `regulake sql` attaches it: one JVM instead of one per question.
`regulake sql` itself runs below, while a resend writes. Tests that write work on a copy.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.endpoint import ANALYST, connect, users_env
from tests.pipeline import AS_OF, REGULAKE, cli, pipeline_env, table_versions

PROJECT = Path(__file__).resolve().parents[2]
RIC = re.compile(r"\b\d{17}[\dXx]\b")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def landing(pipeline_landing) -> Path:
    return pipeline_landing


@pytest.fixture(scope="module")
def lake(pipeline_lake) -> Path:
    return pipeline_lake


@pytest.fixture(scope="module")
def sql(spark, lake_settings, lake):
    """A query on `lake`'s catalog, rows as `regulake sql --format json` prints them."""
    from regulake.spark import get_spark

    def query(statement: str, on: Path = lake) -> list[dict]:
        get_spark(lake_settings.with_overrides(**{"lake.root": str(on)}))  # attaches when it is another lake
        return [json.loads(json.dumps(row.asDict(recursive=True), ensure_ascii=False, default=str))
                for row in spark.sql(statement).collect()]

    yield query
    get_spark(lake_settings)


def test_a_run_without_as_of_classifies_on_the_latest_batch_date(lake, landing, sql):
    latest = max(p.name for p in landing.glob("*/*") if p.is_dir() and p.name.isdigit())
    assert f"{latest[:4]}-{latest[4:6]}-{latest[6:]}" == AS_OF
    assert {str(r["as_of"]) for r in sql("SELECT as_of FROM audit.pipeline_run")} == {AS_OF}
    assert {str(r["d"]) for r in sql("SELECT DISTINCT as_of_date AS d FROM gold.enterprise_risk_class")} \
        == {AS_OF}


def test_generate_writes_deliveries_and_their_truth(tmp_path):
    cli("generate", "--out", str(tmp_path), "--enterprises", "40", "--batches", "2", "--seed", "3", "--no-progress")
    manifests = list((tmp_path / "landing").glob("*/*/manifest.json"))
    assert len({m.parent.parent.name for m in manifests}) == 15
    assert (tmp_path / "truth" / "records.parquet").is_file()


def test_every_delivery_is_logged_and_every_loaded_one_reaches_silver(lake, landing, sql):
    folders = {(p.parent.name, p.name) for p in landing.glob("*/*") if p.is_dir()}
    logged = {(r["feed_id"], r["batch_date"]): r["status"]
              for r in sql("SELECT feed_id, batch_date, status FROM audit.delivery_log")}
    assert set(logged) == folders
    gated = {(r["feed_id"], r["batch_date"]): r["outcome"]
             for r in sql("SELECT feed_id, batch_date, outcome FROM audit.gate_result")}
    assert gated == {key: "promoted" for key, status in logged.items() if status == "loaded"}
    broken = sql("SELECT feed_id, batch_date FROM audit.row_accounting WHERE NOT reconciled")
    assert broken == []


def test_gold_holds_every_mart_and_each_enterprise_once_as_current(sql):
    marts = {p.stem for p in (PROJECT / "dbt_project" / "models" / "marts").rglob("*.sql")}
    gold = {r["tableName"] for r in sql("SHOW TABLES IN gold")}
    assert marts <= gold, f"marts missing from gold: {sorted(marts - gold)}"
    [row] = sql("SELECT count(*) AS n, count(DISTINCT entity_id) AS d FROM gold.dim_enterprise WHERE is_current")
    [registered] = sql("SELECT count(DISTINCT uscc) AS n FROM silver.samr_enterprise")
    assert row["n"] == row["d"] == registered["n"] > 0
    [linked] = sql("SELECT count(*) AS n FROM gold.entity_xref WHERE entity_id IS NOT NULL")
    assert linked["n"] > registered["n"]


def test_the_analyst_question_is_one_query_on_gold(sql):
    """Per region, enterprises with an unrevoked serious penalty and a substantiated complaint in 12 months."""
    themes = (PROJECT / "docs" / "THEMES.md").read_text(encoding="utf-8")
    query = re.search(r"```sql\n(.*?)```", themes[themes.index("Per region"):], re.S).group(1)
    rows = sql(query.replace("current_date()", f"date'{AS_OF}'").strip().rstrip(";"))
    # the same question asked another way (joins instead of EXISTS) must agree
    joined = sql(f"""
        SELECT e.region_code, count(DISTINCT e.entity_id) AS enterprises
        FROM gold.dim_enterprise e
        JOIN gold.fct_penalty p ON p.entity_id = e.entity_id AND p.is_effective AND p.is_serious
             AND p.decision_date >= add_months(date'{AS_OF}', -12)
        JOIN gold.fct_hotline_ticket t ON t.entity_id = e.entity_id AND t.is_complaint AND t.is_substantiated
             AND t.received_at >= add_months(date'{AS_OF}', -12)
        WHERE e.is_current GROUP BY e.region_code""")
    assert {r["region_code"]: r["enterprises"] for r in rows} == {r["region_code"]: r["enterprises"] for r in joined}


def _unmasked_rics(rows, usccs: set[str]) -> list[str]:
    """18-character values that are valid RICs (GB 11643) and not an enterprise's USCC (which may be all digits)."""
    from stdnum.cn import ric

    text = json.dumps(rows, ensure_ascii=False, default=str).replace('"', " ")
    return [m for m in RIC.findall(text) if m not in usccs and ric.is_valid(m)]


@pytest.fixture(scope="module")
def usccs(sql) -> set[str]:
    return {r["entity_id"] for r in sql("SELECT DISTINCT entity_id FROM gold.dim_enterprise")}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _hive_connection(port: int, server: subprocess.Popen, log: Path, seconds: int = 300):
    deadline = time.monotonic() + seconds
    while True:
        assert server.poll() is None, f"regulake serve exited with {server.returncode}: {log.read_text()[-3000:]}"
        try:
            return connect(port, ANALYST)
        except Exception:  # noqa: BLE001 - not listening yet
            if time.monotonic() > deadline:
                raise
            time.sleep(2)


def _hive(connection, query: str) -> list[tuple]:
    cursor = connection.cursor()
    try:
        cursor.execute(query)
        return cursor.fetchall()
    finally:
        cursor.close()


def test_bi_reads_gold_and_masked_public_views_while_a_resend_runs_then_a_rerun_changes_nothing(
        lake, landing, usccs, sql, tmp_path):
    """A BI tool (HiveServer2 over `regulake serve`) and `regulake sql` read while a run writes (on a copy of
    the run's lake, which other tests share)."""
    resend_root = tmp_path / "resend"
    shutil.copytree(landing, resend_root)
    shared, lake = lake, tmp_path / "lake"
    shutil.copytree(shared, lake)
    before = table_versions(lake)
    port, server_log = _free_port(), tmp_path / "serve.log"
    with server_log.open("w") as log_file:
        server = subprocess.Popen([REGULAKE, "serve", "--lake", str(lake), "--port", str(port), "--refresh", "5"],
                                  stdout=log_file, stderr=subprocess.STDOUT, env=pipeline_env() | users_env(tmp_path))
    resend = None
    try:
        connection = _hive_connection(port, server, server_log)
        resend = subprocess.Popen(
            [REGULAKE, "run", "--landing", str(resend_root), "--lake", str(lake), "--as-of", AS_OF],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=pipeline_env(),
        )
        # Started with the run (a rerun that finds only duplicates is short): both start Spark together.
        sql_cli = subprocess.Popen([REGULAKE, "sql", "SHOW TABLES IN audit", "--lake", str(lake), "--format", "csv"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=pipeline_env())
        scorecard = _hive(connection, "SELECT unit_type, unit_code, period, total_score, band "
                                      "FROM gold.efficacy_scorecard")
        assert scorecard and {row[4] for row in scorecard} <= {"red", "yellow", "green"}
        public = {name for row in _hive(connection, "SHOW TABLES IN public") for name in row}
        assert {"dim_enterprise", "efficacy_scorecard"} <= public
        masked = _hive(connection, "SELECT * FROM public.enterprise_legal_representative LIMIT 50")
        assert masked and not _unmasked_rics(masked, usccs)
        assert resend.poll() is None, "the run ended before the queries: no overlap was tested"
        tables, errors = sql_cli.communicate(timeout=600)
        assert sql_cli.returncode == 0 and "delivery_log" in tables, errors[-3000:]
        output, _ = resend.communicate(timeout=2400)
        # Every public view, read the way a BI tool reads it: no unmasked RIC anywhere.
        rics = {r["legal_rep_id_no"] for r in sql("SELECT DISTINCT legal_rep_id_no FROM silver.samr_enterprise")}
        assert _unmasked_rics(sorted(filter(None, rics)), usccs), "the check finds the RICs silver holds"
        for view in sorted(public - {"public", False, True}):
            found = _unmasked_rics(_hive(connection, f"SELECT * FROM public.{view}"), usccs)
            assert not found, f"public.{view} exposes unmasked RICs, e.g. {found[:2]}"
        connection.close()
    finally:
        if resend is not None and resend.poll() is None:
            resend.kill()
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=120)
        except subprocess.TimeoutExpired:
            server.kill()
    assert server.returncode == 0, server_log.read_text()[-3000:]
    assert resend.returncode == 0, output[-5000:]
    duplicates = {(r["feed_id"], r["batch_date"]) for r in sql(
        "SELECT feed_id, batch_date FROM audit.delivery_log WHERE status = 'duplicate'", on=lake)}
    loaded = {(r["feed_id"], r["batch_date"]) for r in sql(
        "SELECT feed_id, batch_date FROM audit.delivery_log WHERE status = 'loaded'", on=lake)}
    assert loaded <= duplicates

    after_resend = table_versions(lake)
    # The endpoint logged the BI tool's statements in its own table, audit.query_log.
    assert after_resend.get("audit.query_log", -1) > before.get("audit.query_log", -1)
    changed = {t for t in after_resend if before.get(t) != after_resend[t]} - {
        "audit.pipeline_run", "audit.delivery_log", "audit.query_log"}
    assert changed == set(), f"a resent landing committed to {sorted(changed)}"

    status = cli("status", "--lake", str(lake)).stdout
    assert "silver.samr_enterprise" in status

    rerun = cli("run", "--landing", str(landing), "--lake", str(lake), "--as-of", AS_OF).stderr
    assert re.search(r"^– linking .* skipped: nothing new", rerun, re.M), rerun
    assert all(re.search(rf"^– {stage} ", rerun, re.M) for stage in ("dbt", "risk", "inspection", "scorecards")), rerun
    after = table_versions(lake)
    changed = {t for t in after if after_resend.get(t) != after[t]} - {"audit.pipeline_run"}
    assert changed == set(), f"a rerun committed to {sorted(changed)}"


def test_run_fails_clearly_on_a_missing_landing(tmp_path):
    result = subprocess.run(
        [REGULAKE, "run", "--landing", str(tmp_path / "nope"), "--lake", str(tmp_path / "lake")],
        capture_output=True, text=True, env=pipeline_env(), timeout=300,
    )
    assert result.returncode != 0
    assert "nope" in result.stderr + result.stdout


def test_conf_files_parse():
    for path in (PROJECT / "conf").glob("*.yaml"):
        assert yaml.safe_load(path.read_text(encoding="utf-8")) is not None, path


def test_risk_backtest_scores_the_inspections_after_each_cut(lake, tmp_path):
    out = tmp_path / "backtest.md"
    shared, lake = lake, tmp_path / "lake"  # the backtest writes gold.risk_backtest
    shutil.copytree(shared, lake)
    cli("risk", "backtest", "--lake", str(lake), "--cuts", "2024-01-31", "--window-days", "730",
         "--horizon-days", "60", "--out", str(out))
    text = out.read_text(encoding="utf-8")
    rows = {cells[1]: cells for cells in ([c.strip() for c in line.strip("|").split("|")]
                                          for line in text.splitlines() if line.startswith("| 2024-01-31 |"))}
    assert set(rows) == {"learned", "hand"}, text
    hand = rows["hand"]
    assert int(hand[3].split(" ")[0]) > 0, hand   # random inspections after the cut were scored
    assert hand[4] != "–" and "A " in hand[6], hand  # the hand weights always score, with class rates
    # The learned scorecard either scored too or says the history was too thin for it.
    assert rows["learned"][4] != "–" or "too thin" in rows["learned"][4], rows["learned"]
    assert (lake / "gold" / "risk_backtest" / "_delta_log").is_dir()   # charted by the run report


def test_a_deletion_request_erases_a_person_from_every_layer(lake, spark, tmp_path):
    """A copy of the run's lake: `regulake erase --dry-run` changes nothing; the erasure then removes a legal
    representative from bronze, silver, gold and audit; the enterprises stay; earlier versions are gone; the
    erasure log keeps no RIC. (In this process's Spark session but the preview: one JVM start less.)"""
    from jobs.maintenance.erasure import erase
    from regulake.config import load_settings
    from regulake.identifiers import is_valid_ric

    copy = tmp_path / "lake"
    shutil.copytree(lake, copy)
    settings = load_settings(lake_root=str(copy))

    def count(table: str, where: str = "true") -> int:
        return spark.read.format("delta").load(str(copy / table.replace(".", "/"))).where(where).count()

    candidates = (spark.read.format("delta").load(str(copy / "silver" / "samr_enterprise"))
                  .where("legal_rep_id_no IS NOT NULL").groupBy("legal_rep_id_no").count()
                  .orderBy("count", "legal_rep_id_no", ascending=[False, True]).limit(50).collect())
    ric = next(row[0].upper() for row in candidates if is_valid_ric(row[0].upper()))
    enterprises = count("silver.samr_enterprise")
    assert count("gold.dim_person", f"person_ric = '{ric}'") >= 1

    before = table_versions(copy)
    preview = cli("erase", "--ric", ric, "--lake", str(copy), "--dry-run")
    assert "silver.samr_enterprise" in preview.stdout and "bronze.samr_enterprise" in preview.stdout, preview.stdout
    assert table_versions(copy) == before, "a dry run changed a table"

    report = erase(spark, settings, ric)
    assert report.rows > 0 and not report.remaining
    for table, column in (("bronze.samr_enterprise", "legal_rep_id_no"), ("silver.samr_enterprise", "legal_rep_id_no"),
                          ("gold.dim_person", "person_ric"), ("gold.enterprise_person", "person_ric")):
        assert count(table, f"upper({column}) = '{ric}'") == 0, table
    assert count("silver.samr_enterprise") == enterprises, "the enterprises themselves must stay"
    logged = [row.asDict() for row in spark.read.format("delta").load(str(copy / "audit" / "erasure_log")).collect()]
    assert {row["table_name"] for row in logged} >= {"samr_enterprise", "dim_person"}
    assert ric not in repr(logged)
    # Time travel cannot bring the person back: the files of the earlier versions are vacuumed.
    try:
        old = (spark.read.format("delta").option("versionAsOf", 0).load(str(copy / "silver" / "samr_enterprise"))
               .where(f"upper(legal_rep_id_no) = '{ric}'").count())
    except Exception:  # noqa: BLE001 - the old files are gone: the version cannot be read at all
        old = 0
    assert old == 0
    # No data file, report or Data Docs page outside the Delta logs holds it either.
    holding = [str(f.relative_to(copy)) for f in copy.rglob("*") if f.is_file() and "_delta_log" not in f.parts
               and ric.encode() in f.read_bytes()]
    assert not holding, holding
