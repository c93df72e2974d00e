"""The run report: one self-contained HTML file whose charts a headless Chromium draws."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest

from jobs.publish import job as publish_job
from regulake import stage_state
from regulake.config import load_settings
from tests.stages import context

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHARTS = ["risk-by-region", "risk-by-industry", "hit-rate-by-class", "scorecard-department-year",
          "scorecard-region-year", "scorecard-department-month", "scorecard-region-month",
          "deliveries-by-status", "quarantine-by-reason", "risk-backtest"]

HOSTILE_NAME = '</script><script>alert("unit")</script><img src=x onerror=alert(1)>'
HOSTILE_REASON = '<script>alert("model")</script>'

TABLES = {
    ("gold", "dim_enterprise"): ("entity_id string, region_code string, industry_code string, is_current boolean",
                                 [("E1", "410105", "F51", True), ("E2", "410302", "C13", True),
                                  ("E3", "410105", "F52", True), ("E4", "410302", "C13", True)]),
    ("gold", "dim_region"): ("region_code string, region_name string, prefecture_name string",
                             [("410105", "金水区", "郑州市"), ("410302", "老城区", "洛阳市")]),
    ("gold", "dim_industry"): ("industry_code string, section_code string, section_name string",
                               [("F51", "F", "批发和零售业"), ("F52", "F", "批发和零售业"), ("C13", "C", "制造业")]),
    ("gold", "enterprise_risk_class"): ("entity_id string, as_of_date date, risk_class string, veto_reason string",
                                        [("E1", date(2024, 3, 1), "A", None),
                                         ("E2", date(2024, 3, 1), "D", "失信被执行人"),
                                         ("E3", date(2024, 3, 1), "B", None), ("E4", date(2024, 3, 1), "D", None),
                                         ("E4", date(2024, 2, 1), "C", None)]),
    ("gold", "fct_inspection"): ("inspection_id string, entity_id string, task_type string, "
                                 "is_problem_found boolean, inspection_date date",
                                 [("I1", "E1", "双随机", False, date(2024, 3, 5)),
                                  ("I2", "E2", "双随机", True, date(2024, 3, 6)),
                                  ("I3", "E4", "双随机", False, date(2024, 3, 7))]),
    ("gold", "efficacy_scorecard"): ("unit_type string, unit_code string, unit_name string, period_type string, "
                                     "period string, total_score double, rank int, band string",
                                     [("department", "SCJG", "市场监督管理局", "year", "2024", 82.5, 1, "green"),
                                      ("department", "WJ", "卫生健康委员会", "year", "2024", 40.0, 2, "red"),
                                      # A hostile name: the report must show it as text, never run it.
                                      ("department", "EVIL", HOSTILE_NAME, "year", "2024", 10.0, 3, "red"),
                                      ("department", "SCJG", "市场监督管理局", "month", "2024-03", 70.0, 1, "yellow"),
                                      ("region", "410100", "郑州市", "year", "2024", 61.0, 1, "yellow"),
                                      ("region", "410100", "郑州市", "month", "2024-03", 61.0, 1, "yellow")]),
    ("gold", "risk_model"): ("model_version string, fit_month string, method string, training_rows long, "
                             "training_events long, auc_in_sample double, cutoff_b double, cutoff_c double, "
                             "cutoff_d double, reason string",
                             [("woe-1/2024.2/2024-02", "2024-02", "learned", 900, 300, 0.71, 120.0, 300.0, 420.0,
                               "fitted in February"),
                              ("woe-1/2024.2/2024-03", "2024-03", "learned", 950, 310, 0.72, 125.0, 310.0, 430.0,
                               "fitted in March " + HOSTILE_REASON),
                              ("woe-1/2024.2/2024-04", "2024-04", "hand", 10, 3, None, None, None, None,
                               "April: after the as-of date")]),
    ("gold", "risk_backtest"): ("cut_date date, scorer string, label string, inspections long, "
                                "problem_found_rate double, share double, auc double, auc_low double, "
                                "auc_high double, lift double, stability double",
                                [(date(2024, 1, 31), "learned", "A", 40, 0.1, 0.5, 0.74, 0.7, 0.78, 1.9, None),
                                 (date(2024, 1, 31), "learned", "D", 31, 0.8, 0.035, 0.74, 0.7, 0.78, 1.9, None),
                                 (date(2024, 1, 31), "learned", "veto: 失信被执行人", 12, 0.58, None, 0.74, 0.7,
                                  0.78, 1.9, None)]),
    ("audit", "delivery_log"): ("feed_id string, batch_date string, status string",
                                [("samr_penalty", "20240301", "loaded"), ("samr_penalty", "20240401", "rejected"),
                                 ("hotline_12345", "20240301", "loaded"), ("hotline_12345", "20240301", "duplicate")]),
    ("audit", "quarantine"): ("feed_id string, reason_code string",
                              [("samr_penalty", "invalid_value"), ("samr_penalty", "missing_required"),
                               ("hotline_12345", "parse_error")]),
    ("audit", "row_accounting"): ("feed_id string, rows_in long, rows_accepted long, rows_duplicate long, "
                                  "rows_quarantined long",
                                  [("samr_penalty", 10, 8, 0, 2), ("hotline_12345", 5, 4, 0, 1)]),
}


@pytest.fixture(scope="module")
def report_lake(spark, tmp_path_factory):
    settings = load_settings(lake_root=tmp_path_factory.mktemp("report_lake"))
    for (layer, table), (ddl, rows) in TABLES.items():
        spark.createDataFrame(rows, ddl).write.format("delta").save(settings.table_path(layer, table))
    return settings


def _versions(spark, settings) -> dict:
    return stage_state.table_versions(spark, settings, TABLES)


@pytest.fixture(scope="module")
def published(spark, report_lake):
    before = _versions(spark, report_lake)
    result = publish_job.run(context(spark, report_lake, "run-report-1", date(2024, 3, 31)))
    return result, before


def test_report_is_written_self_contained_and_changes_no_table(spark, report_lake, published):
    result, before = published
    report = Path(result["report"])
    assert report == Path(report_lake.lake_root) / "_reports" / "regulake_report.html"
    assert Path(result["dated_report"]).read_bytes() == report.read_bytes()
    assert re.fullmatch(r"regulake_report_\d{4}-\d{2}-\d{2}\.html", Path(result["dated_report"]).name)
    assert result["charts"] == len(CHARTS)
    page = report.read_text(encoding="utf-8")
    assert "run-report-1" in page
    # Self-contained: plotly.js inline, nothing fetched from the network.
    assert not re.search(r"<script[^>]*\bsrc\s*=", page) and not re.search(r"<link\b", page)
    markup = re.sub(r"<script\b[^>]*>.*?</script>", "", page, flags=re.S)  # plotly.js mentions URLs in strings
    assert not re.search(r"""(src|href)\s*=\s*["']https?://""", markup)
    assert "Plotly" in page and len(page) > 1_000_000
    assert _versions(spark, report_lake) == before, "publish must not commit to any Delta table"


def test_data_values_are_escaped_in_the_report(published):
    """Names and reasons come from departments' data: in tables they are HTML-escaped, in the charts'
    JSON they cannot close the script block."""
    page = Path(published[0]["report"]).read_text(encoding="utf-8")
    assert 'alert(\\"unit\\")' in page, "the hostile name is in the chart data at all"
    for raw in ('<script>alert("unit")', '<script>alert("model")', "<img src=x", "</script><script>alert"):
        assert raw not in page, f"unescaped data value in the report: {raw}"
    assert '&lt;script&gt;alert("model")&lt;/script&gt;' in page
    assert page.count("<script") == page.count("</script>"), "a data value closed or opened a script block"


def test_headless_chromium_draws_every_chart(published, tmp_path):
    # make setup installs Debian's chromium; without it this test must fail, not pass silently.
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} missing: run make setup (scripts/setup.sh installs chromium)"
    result, _ = published
    dom = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
         f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=20000", "--dump-dom",
         Path(result["report"]).as_uri()],
        capture_output=True, text=True, timeout=120,
    ).stdout
    assert dom, "chromium returned no DOM"
    parts = dom.split('data-chart="')[1:]
    drawn = {}
    for part in parts:
        chart_id = part.split('"', 1)[0]
        # plotly draws into <svg class="main-svg">; each bar is a <path> in a <g class="point">.
        drawn[chart_id] = part.count('class="main-svg"') >= 1 and len(re.findall(r'class="point"', part)) >= 1
    assert sorted(drawn) == sorted(CHARTS)
    assert all(drawn.values()), {k: v for k, v in drawn.items() if not v}
    # The hit rate by class is labelled with what the fixture gives: the veto's D apart (1/1), scored D 0/1, A 0/1.
    hit_rate = dom.split('data-chart="hit-rate-by-class"')[1].split('data-chart="')[0]
    assert "100% (1/1)" in hit_rate and "0% (0/1)" in hit_rate and "veto: 失信被执行人" in hit_rate
    assert "50% (1/2)" not in hit_rate
    # The backtest: each class and veto with its rate and count; the model of the as-of month beside it.
    backtest = dom.split('data-chart="risk-backtest"')[1].split('data-chart="')[0]
    assert "80% (31)" in backtest, re.findall(r"\d+% \(\d+\)", backtest)
    assert "veto: 失信被执行人" in backtest and "2024-01-31 · learned" in backtest
    page = Path(result["report"]).read_text(encoding="utf-8")
    assert "fitted in March" in page and "April: after the as-of date" not in page
    assert "0.740 [0.700, 0.780]" in page


def test_a_cjk_font_is_installed_so_the_chinese_labels_are_not_boxes():
    # make setup installs Debian's fonts-wqy-zenhei beside chromium.
    families = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True).stdout
    assert families.strip(), "no font covers Chinese: run make setup (scripts/setup.sh installs fonts-wqy-zenhei)"


def test_the_report_shows_the_classes_and_scorecards_of_its_as_of_date(spark):
    from jobs.publish.figures import latest_classes, latest_ranking

    ddl, rows = TABLES[("gold", "enterprise_risk_class")]
    classes = spark.createDataFrame(rows, ddl)
    assert {(r.entity_id, r.risk_class) for r in latest_classes(classes, date(2024, 2, 15)).collect()} == {("E4", "C")}
    assert len(latest_classes(classes, date(2024, 3, 31)).collect()) == 4
    ddl, rows = TABLES[("gold", "efficacy_scorecard")]
    later = ("department", "SCJG", "市场监督管理局", "year", "2025", 10.0, 1, "red")
    scorecard = spark.createDataFrame([*rows, later], ddl)
    assert {r.period for r in latest_ranking(scorecard, "year", date(2024, 3, 31)).collect()} == {"2024"}
    assert {r.period for r in latest_ranking(scorecard, "year", date(2025, 1, 31)).collect()} == {"2024", "2025"}
    assert {r.period for r in latest_ranking(scorecard, "month", date(2024, 3, 31)).collect()} == {"2024-03"}


def test_the_lineage_view_lists_each_gold_table_with_its_feeds_but_not_dbts_views():
    build = {"job": "risk", "at": "2026-12-06T10:00:00+00:00", "run_id": "manual__1", "columns": {}}
    tables = {
        "bronze.tax_credit": build | {"inputs": []},
        "silver.tax_credit": build | {"inputs": ["bronze.tax_credit", "audit.quarantine"]},
        "gold.stg_tax__credits": build | {"inputs": ["silver.tax_credit"]},
        "gold.fct_tax_credit": build | {"inputs": ["gold.stg_tax__credits"]},
        "gold.dim_region": build | {"inputs": ["gold.regions"]},
        "public.fct_tax_credit": build | {"inputs": ["gold.fct_tax_credit"],
                                          "columns": {"grade": ["gold.fct_tax_credit.grade"]}},
    }
    title, body = publish_job.lineage_section(tables, ["tax_credit", "samr_enterprise"],
                                              ["fct_tax_credit", "dim_region"])
    assert "数据血缘" in title
    rows = re.findall(r"<tr>\s*<td>(gold\.[a-z_]+)</td>\s*<td>([^<]*)</td>", body)
    assert rows == [("gold.dim_region", "none (reference data)"), ("gold.fct_tax_credit", "tax_credit")]
    assert "grade ← gold.fct_tax_credit.grade" in body
