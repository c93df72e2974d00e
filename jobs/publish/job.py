"""The I/O edge of publish: read gold and audit, write one self-contained HTML report per run.

`<lake>/_reports/regulake_report.html` (the latest) and `regulake_report_<YYYY-MM-DD>.html`
(a dated copy, replaced by a later run of the same day). Everything is inline (plotly.js
included, no CDN), so the file opens offline and can be mailed. Publishing first switches
the `public` views to the gold tables of this run (`regulake.catalog.publish_gold`); otherwise it
reads only (it commits no Delta version besides its `audit.pipeline_run` row); when nothing it shows has changed
since the run that wrote it (the fingerprint of its inputs sits beside it in `regulake_report.inputs`),
that report is kept and not drawn again.
"""

from __future__ import annotations

import html
import logging
import time
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
from plotly.offline import get_plotlyjs
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.dbt.config import DOCS_DIR
from jobs.publish import figures
from jobs.scorecards.config import load_config
from jobs.scorecards.job import read_tables
from jobs.silver.job import held_deliveries
from regulake import lake, lineage, stage_state, storage
from regulake.catalog import discover_tables, publish_gold, refresh_catalog
from regulake.config import Settings
from regulake.feeds import load_all_feeds
from regulake.stage import StageContext

log = logging.getLogger(__name__)

REPORTS_DIR = "_reports"
REPORT_NAME = "regulake_report"
FINGERPRINT_NAME = f"{REPORT_NAME}.inputs"
CODE = [Path(__file__).parent, Path(__file__).parents[1] / "scorecards" / "config.py"]
INPUTS = {
    "enterprise_risk_class": "entity_id string, as_of_date date, risk_class string, veto_reason string",
    "dim_enterprise": "entity_id string, region_code string, industry_code string, is_current boolean",
    "dim_region": "region_code string, region_name string, prefecture_name string",
    "dim_industry": "industry_code string, section_code string, section_name string",
    "fct_inspection": "inspection_id string, entity_id string, task_type string, is_problem_found boolean, "
                      "inspection_date date",
    "efficacy_scorecard": "unit_type string, unit_code string, unit_name string, period_type string, "
                          "period string, total_score double, rank int, band string",
    "risk_model": "model_version string, fit_month string, method string, training_rows long, "
                  "training_events long, auc_in_sample double, cutoff_b double, cutoff_c double, cutoff_d double, "
                  "reason string",
    "risk_backtest": "cut_date date, scorer string, label string, inspections long, problem_found_rate double, "
                     "share double, auc double, auc_low double, auc_high double, lift double, stability double",
    "audit.delivery_log": "feed_id string, batch_date string, status string",
    "audit.quarantine": "feed_id string, reason_code string",
    "audit.row_accounting": "feed_id string, rows_in long, rows_accepted long, rows_duplicate long, "
                            "rows_quarantined long",
}

STYLE = """
body{font-family:"Noto Sans CJK SC","WenQuanYi Zen Hei","Microsoft YaHei",system-ui,sans-serif;margin:0;background:#f5f6f8;color:#222}
header{background:#1f3a5f;color:#fff;padding:18px 32px}header h1{margin:0 0 4px;font-size:22px}
header p{margin:0;opacity:.85;font-size:13px}main{padding:8px 32px 40px;max-width:1280px}
section{background:#fff;border-radius:6px;margin:18px 0;padding:12px 18px;box-shadow:0 1px 3px rgba(0,0,0,.08)}
h2{font-size:17px;margin:6px 0 10px}.grid{display:grid;grid-template-columns:1fr 1fr;gap:12px}
.empty{color:#888;font-style:italic}table{border-collapse:collapse;font-size:13px}
td,th{border-bottom:1px solid #e3e3e3;padding:4px 10px;text-align:right}th:first-child,td:first-child{text-align:left}
@media (max-width:900px){.grid{grid-template-columns:1fr}}
"""


def _pandas(frame: DataFrame) -> pd.DataFrame:
    return frame.toPandas()


def _chart(figure, chart_id: str) -> str:
    body = figure.to_html(full_html=False, include_plotlyjs=False, div_id=chart_id,
                          config={"displaylogo": False, "responsive": True})
    return f'<div class="chart" data-chart="{chart_id}">{body}</div>'


def _empty(what: str) -> str:
    return f'<p class="empty">No {html.escape(what)} yet.</p>'


def _table(frame: pd.DataFrame, what: str = "row accounting") -> str:
    if frame.empty:
        return _empty(what)
    return frame.to_html(index=False, border=0, na_rep="")


def report_sections(tables: dict[str, DataFrame], as_of: date) -> tuple[list[tuple[str, str]], int]:
    """[(title, html)] of the report on the run's as-of date, and how many charts it draws."""
    cfg = load_config()
    charts = 0
    sections: list[tuple[str, str]] = []

    def chart_or_empty(frame: pd.DataFrame, build, chart_id: str, what: str) -> str:
        nonlocal charts
        if frame.empty:
            return _empty(what)
        charts += 1
        return _chart(build(frame), chart_id)

    by_region, by_industry = figures.class_distribution(
        tables["enterprise_risk_class"], tables["dim_enterprise"], tables["dim_region"], tables["dim_industry"],
        as_of)
    sections.append((f"Risk classes (企业信用风险分类) on {as_of:%Y-%m-%d}", '<div class="grid">' + (
        chart_or_empty(_pandas(by_region), lambda f: figures.stacked_bars(
            f, "prefecture", "risk_class", "count", figures.CLASS_COLOURS, "Enterprises by prefecture and class"),
            "risk-by-region", "risk classes")
        + chart_or_empty(_pandas(by_industry), lambda f: figures.stacked_bars(
            f, "industry", "risk_class", "count", figures.CLASS_COLOURS, "Enterprises by industry and class",
            horizontal=True), "risk-by-industry", "risk classes")) + "</div>"))

    hits = _pandas(figures.hit_rate_by_class(tables["fct_inspection"], tables["enterprise_risk_class"],
                                             list(cfg.option("random_task_types"))))
    sections.append(("Random-inspection hit rate by risk class (vetoes apart)",
                     chart_or_empty(hits, figures.hit_rate_chart, "hit-rate-by-class", "classified inspections")))

    model = _pandas(figures.model_of_month(tables["risk_model"], as_of))
    backtest = _pandas(tables["risk_backtest"])
    sections.append(("Risk model in force and its out-of-time backtest (vetoes apart)",
                     (_table(model, "risk model fitted") if not model.empty else _empty("risk model fitted: hand weights"))
                     + chart_or_empty(backtest, figures.backtest_chart, "risk-backtest",
                                      "backtest (run `regulake risk backtest`)")
                     + (_table(figures.backtest_summary(backtest), "backtest") if not backtest.empty else "")))

    ranking_html = ""
    for period_type in ("year", "month"):
        ranking = _pandas(figures.latest_ranking(tables["efficacy_scorecard"], period_type, as_of))
        for unit_type, label in (("department", "Departments"), ("region", "Regions")):
            part = ranking[ranking["unit_type"] == unit_type] if not ranking.empty else ranking
            period = part["period"].iloc[0] if not part.empty else ""
            ranking_html += chart_or_empty(
                part, lambda f, lbl=label, p=period: figures.ranking_chart(f, f"{lbl}: efficacy scorecard {p}"),
                f"scorecard-{unit_type}-{period_type}", f"{unit_type} scorecard ({period_type})")
    sections.append(("Efficacy scorecards (监管工作情况评估): rank and band", '<div class="grid">' + ranking_html
                     + "</div>"))

    outcomes = _pandas(figures.delivery_outcomes(tables["audit.delivery_log"]))
    reasons = _pandas(figures.quarantine_reasons(tables["audit.quarantine"]))
    sections.append(("Data quality per feed", '<div class="grid">' + (
        chart_or_empty(outcomes, lambda f: figures.stacked_bars(
            f, "feed_id", "status", "deliveries", figures.STATUS_COLOURS, "Deliveries by outcome"),
            "deliveries-by-status", "deliveries")
        + chart_or_empty(reasons, lambda f: figures.stacked_bars(
            f, "feed_id", "reason_code", "records", {}, "Quarantined records by reason"),
            "quarantine-by-reason", "quarantined records")) + "</div>"
        + "<h3>Rows delivered and what became of them</h3>"
        + _table(_pandas(figures.row_totals(tables["audit.row_accounting"]).orderBy("feed_id")))))
    return sections, charts


def lineage_section(tables: dict[str, dict], feed_ids: list[str], gold_tables: list[str]) -> tuple[str, str]:
    """The lineage view (数据血缘): for each gold table, the feeds it comes from, what its last build read,
    and the job and run that built it (regulake.lineage: `<lake>/_lineage/tables.json`). `gold_tables`: the
    tables gold holds (dbt's staging and intermediate views live only in the dbt run: not listed)."""
    gold = sorted(t for t in tables if t.startswith("gold.") and t.removeprefix("gold.") in gold_tables)
    title = "Lineage (数据血缘): where each gold table comes from"
    if not gold:
        return title, _empty("lineage events (lineage.enabled is off, or no run has built gold since it was on)")
    rows = []
    for table in gold:
        build = tables[table]
        read = [t for t in build["inputs"] if t.split(".")[0] in lineage.DATA_LAYERS]
        rows.append({"table": table, "source feeds": ", ".join(lineage.source_feeds(tables, table, feed_ids)) or "none (reference data)",
                     "built from": ", ".join(read) or "—", "built by": build["job"],
                     "run": build.get("run_id") or "", "at": build["at"][:19].replace("T", " ")})
    views = [{"view": view, "columns traced": len(build["columns"]),
              "e.g.": next((f"{column} ← {', '.join(sources)}" for column, sources in build["columns"].items()
                            if sources), "")}
             for view, build in sorted(tables.items()) if view.startswith("public.") and build.get("columns")]
    return title, ("<p>From the OpenLineage events under <code>_lineage/</code> (stages, dbt, Spark, Airflow). "
                   "Source feeds: every department feed upstream of the table.</p>"
                   + _table(pd.DataFrame(rows), "lineage")
                   + "<h3>Column lineage of the public views (列级血缘, parsed from dbt's compiled SQL)</h3>"
                   + _table(pd.DataFrame(views), "column lineage"))


def render(sections: list[tuple[str, str]], run_id: str, lake_root: str, generated_at: datetime,
           links: dict[str, str] | None = None) -> str:
    """The report page; `links` ({label: URL relative to the report}) go in its header."""
    body = "".join(f"<section><h2>{html.escape(title)}</h2>{content}</section>" for title, content in sections)
    header_links = "".join(f' · <a href="{html.escape(url)}">{html.escape(label)}</a>'
                           for label, url in (links or {}).items())
    return (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>regulake report {html.escape(run_id)}</title><style>{STYLE}</style>"
        f'<script type="text/javascript">{get_plotlyjs()}</script></head><body>'
        f"<header><h1>regulake · 互联网+监管 run report</h1><p>run {html.escape(run_id)} · "
        f"generated {generated_at:%Y-%m-%d %H:%M %Z} · lake {html.escape(lake_root)}{header_links}</p></header>"
        f"<main>{body}</main></body></html>"
    )


def input_fingerprint(spark: SparkSession, settings: Settings, as_of: date) -> str:
    """What the report shows: the Delta versions of its tables (and of the gate's verdicts), code, as-of date."""
    tables = [tuple(name.split(".")) if "." in name else ("gold", name) for name in INPUTS]
    return stage_state.fingerprint(
        tables=stage_state.table_versions(spark, settings, [*tables, ("audit", "gate_result")]),
        code=stage_state.files_digest(CODE), as_of=as_of.isoformat())


def run(ctx: StageContext) -> dict:
    """Write the report of a run on `as_of` (kept as it is when nothing it shows changed); returns its
    location, the number of charts drawn (None when kept) and the deliveries the gate holds back."""
    spark, settings, run_id, as_of = ctx.spark, ctx.settings, ctx.run_id, ctx.as_of
    started = time.perf_counter()
    # Every gold table of the run has committed (publish runs last): switch `public` to them at once.
    publish_gold(settings, run_id)
    refresh_catalog(spark, settings)
    zone = ZoneInfo(str(spark.conf.get("spark.sql.session.timeZone", "Asia/Shanghai")))
    now = datetime.now(zone)
    folder = f"{settings.lake_root}/{REPORTS_DIR}"
    latest, dated = f"{folder}/{REPORT_NAME}.html", f"{folder}/{REPORT_NAME}_{now:%Y-%m-%d}.html"
    # The fingerprint is a file beside the report, not a row in audit.stage_run, so publishing
    # commits nothing but its run row (a re-sent delivery redraws the report, and that is all).
    current, recorded = input_fingerprint(spark, settings, as_of), f"{folder}/{FINGERPRINT_NAME}"
    charts = None
    built = lineage.update_tables(settings, run_id)  # the latest build of each table, this run's merged in
    if storage.exists(latest) and storage.exists(recorded) and storage.read_text(recorded) == current:
        log.info("report %s kept: nothing it shows changed since the run that wrote it", latest)
    else:
        sections, charts = report_sections(read_tables(spark, settings, INPUTS), as_of)
        sections.append(lineage_section(built, sorted(load_all_feeds()),
                                        discover_tables(settings.lake_root).get("gold", [])))
        docs = f"{settings.lake_root}/{DOCS_DIR}/index.html"
        links = {"data catalogue (dbt docs)": f"../{DOCS_DIR}/index.html"} if storage.exists(docs) else {}
        page = render(sections, run_id, settings.lake_root, now, links)
        storage.write_text(latest, page)
        storage.write_text(dated, page)
        storage.write_text(recorded, current)  # last: a crash before it means "draw again"
        log.info("report with %d charts written to %s (dated copy %s) in %.1fs", charts, latest, dated,
                 time.perf_counter() - started)
    held = held_deliveries(spark, settings)
    record_run(ctx, "held_back" if held else "success")
    return {"report": latest, "dated_report": dated if charts is not None else None, "charts": charts,
            "held": held}


def record_run(ctx: StageContext, state: str) -> None:
    """Append this run to audit.pipeline_run (what `regulake status` shows as the last run)."""
    spark, settings = ctx.spark, ctx.settings
    row = spark.createDataFrame(
        [(ctx.run_id, state, ctx.landing_root, ctx.as_of.isoformat())],
        "run_id string, state string, landing string, as_of string",
    ).withColumn("finished_at", F.current_timestamp())
    # MERGE on run_id: a retried publish task does not add a second row.
    lake.audit_merge(spark, settings, "pipeline_run", row, "t.run_id = s.run_id", update=True)
