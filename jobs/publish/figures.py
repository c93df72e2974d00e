"""The report's figures: Spark aggregates of gold and audit (pure), then plotly charts of them."""

from __future__ import annotations

from datetime import date

import pandas as pd
import plotly.graph_objects as go
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from jobs.scorecards.indicators import class_at_inspection

CLASS_COLOURS = {"A": "#2e7d32", "B": "#9ccc65", "C": "#ffb300", "D": "#c62828"}
BAND_COLOURS = {"green": "#2e7d32", "yellow": "#f9a825", "red": "#c62828"}
STATUS_COLOURS = {"loaded": "#2e7d32", "duplicate": "#90a4ae", "incomplete": "#ffb300", "rejected": "#c62828"}


# --- aggregates (Spark) ------------------------------------------------------------------

def latest_classes(classes: DataFrame, as_of: date) -> DataFrame:
    """Each enterprise's class on the latest date classified up to the run's as-of date."""
    classes = classes.where(F.col("as_of_date") <= F.lit(as_of))
    latest = classes.agg(F.max("as_of_date").alias("_latest"))
    return classes.join(latest, classes["as_of_date"] == latest["_latest"]).drop("_latest")


def class_distribution(classes: DataFrame, enterprises: DataFrame, regions: DataFrame,
                       industries: DataFrame, as_of: date) -> tuple[DataFrame, DataFrame]:
    """Enterprises per (prefecture, class) and per (industry section, class) on the as-of date."""
    current = enterprises.where(F.col("is_current")).dropDuplicates(["entity_id"])
    joined = (latest_classes(classes, as_of).join(current, "entity_id", "left")
              .join(regions.select("region_code", "prefecture_name"), "region_code", "left")
              .join(industries.select("industry_code", "section_name"), "industry_code", "left"))
    by_region = (joined.withColumn("prefecture", F.coalesce("prefecture_name", "region_code", F.lit("(unknown)")))
                 .groupBy("prefecture", "risk_class").count())
    by_industry = (joined.withColumn("industry", F.coalesce("section_name", F.substring("industry_code", 1, 1),
                                                            F.lit("(unknown)")))
                   .groupBy("industry", "risk_class").count())
    return by_region, by_industry


def hit_rate_by_class(inspections: DataFrame, classes: DataFrame, random_task_types: list[str]) -> DataFrame:
    """Random inspections and problems found per risk class of the enterprise when inspected.

    Classes forced by a veto rule are counted apart, one row per veto (`label` "D · veto:
    失信被执行人"), beside the scored classes, so the report shows when a veto puts
    enterprises into D whose problem-found rate is below a scored class's.
    """
    veto = F.col("veto_reason") if "veto_reason" in classes.columns else F.lit(None).cast("string")
    labelled = classes.select("entity_id", "as_of_date", F.when(veto.isNull(), F.col("risk_class")).otherwise(
        F.concat("risk_class", F.lit(" · veto: "), veto)).alias("risk_class"))
    random = inspections.where(F.col("task_type").isin(random_task_types))
    classed = class_at_inspection(random, labelled).where(F.col("risk_class").isNotNull())
    return (classed.groupBy(F.col("risk_class").alias("label"))
            .agg(F.count(F.lit(1)).alias("inspections"),
                 F.sum(F.col("is_problem_found").cast("int")).alias("problems"))
            .withColumn("risk_class", F.substring("label", 1, 1))
            .withColumn("hit_rate", F.round(F.col("problems") / F.col("inspections"), 4)))


def model_of_month(models: DataFrame, as_of: date) -> DataFrame:
    """The risk model fitted for the as-of month (or the latest before it): what scored the classes."""
    fitted = models.where(F.col("fit_month") <= F.lit(as_of.strftime("%Y-%m")))
    latest = fitted.agg(F.max("fit_month").alias("_latest"))
    return (fitted.join(latest, fitted["fit_month"] == latest["_latest"])
            .select("model_version", "method", "training_rows", "training_events", "auc_in_sample",
                    "cutoff_b", "cutoff_c", "cutoff_d", "reason"))


def latest_ranking(scorecard: DataFrame, period_type: str, as_of: date) -> DataFrame:
    """The scorecard rows of the latest period of `period_type` up to the as-of date's, per unit type."""
    latest = Window.partitionBy("unit_type")
    last_period = as_of.strftime("%Y-%m") if period_type == "month" else str(as_of.year)
    return (scorecard.where((F.col("period_type") == period_type) & (F.col("period") <= F.lit(last_period)))
            .withColumn("_latest", F.max("period").over(latest))
            .where(F.col("period") == F.col("_latest")).drop("_latest"))


def delivery_outcomes(delivery_log: DataFrame) -> DataFrame:
    return delivery_log.groupBy("feed_id", "status").agg(F.count(F.lit(1)).alias("deliveries"))


def quarantine_reasons(quarantine: DataFrame) -> DataFrame:
    return quarantine.groupBy("feed_id", "reason_code").agg(F.count(F.lit(1)).alias("records"))


def row_totals(row_accounting: DataFrame) -> DataFrame:
    return row_accounting.groupBy("feed_id").agg(
        *[F.sum(c).cast("long").alias(c) for c in ("rows_in", "rows_accepted", "rows_duplicate", "rows_quarantined")])


# --- charts (plotly) ---------------------------------------------------------------------

def _layout(figure: go.Figure, title: str, **extra) -> go.Figure:
    figure.update_layout(title=title, template="plotly_white", height=extra.pop("height", 420),
                         margin={"l": 60, "r": 20, "t": 60, "b": 60},
                         font={"family": "Noto Sans CJK SC, WenQuanYi Zen Hei, Microsoft YaHei, sans-serif"}, **extra)
    return figure


def stacked_bars(frame: pd.DataFrame, category: str, stack: str, value: str, colours: dict[str, str],
                 title: str, horizontal: bool = False) -> go.Figure:
    figure = go.Figure()
    order = frame.groupby(category)[value].sum().sort_values(ascending=horizontal).index.tolist()
    for name in sorted(frame[stack].dropna().unique(), key=lambda s: (s not in colours, list(colours).index(s)
                                                                         if s in colours else 0, s)):
        part = frame[frame[stack] == name].set_index(category).reindex(order)[value].fillna(0)
        bar = (go.Bar(y=order, x=part.tolist(), orientation="h") if horizontal
               else go.Bar(x=order, y=part.tolist()))
        bar.update(name=str(name), marker_color=colours.get(name))
        figure.add_trace(bar)
    return _layout(figure, title, barmode="stack", legend_title_text=stack)


def hit_rate_chart(frame: pd.DataFrame) -> go.Figure:
    frame = frame.sort_values("label")
    figure = go.Figure(go.Bar(
        x=frame["label"], y=frame["hit_rate"], marker_color=[CLASS_COLOURS.get(c) for c in frame["risk_class"]],
        text=[f"{r:.0%} ({p}/{n})" for r, p, n in zip(frame["hit_rate"], frame["problems"], frame["inspections"],
                                                       strict=True)],
        textposition="outside", cliponaxis=False))
    return _layout(figure, "双随机抽查问题发现率 by risk class, vetoes apart (hit rate)", yaxis_tickformat=".0%",
                   xaxis_title="risk class (scored) or veto", yaxis_title="problems found / random inspections")


def backtest_chart(frame: pd.DataFrame) -> go.Figure:
    """Problem-found rate per scored class and per veto after each cut date, one bar group per cut and scorer."""
    figure = go.Figure()
    for (cut, scorer), part in frame.sort_values(["cut_date", "scorer", "label"]).groupby(["cut_date", "scorer"]):
        figure.add_trace(go.Bar(
            x=part["label"], y=part["problem_found_rate"], name=f"{cut} · {scorer}",
            text=[f"{r:.0%} ({n})" for r, n in zip(part["problem_found_rate"], part["inspections"], strict=True)],
            textposition="outside", cliponaxis=False))
    return _layout(figure, "Out-of-time backtest: problem-found rate after each cut, by class then veto",
                   barmode="group", showlegend=True, yaxis_tickformat=".0%", xaxis_title="scored class or veto",
                   yaxis_title="problems found / random inspections after the cut")


def backtest_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per cut and scorer: AUC with its interval, lift, stability."""
    first = frame.groupby(["cut_date", "scorer"], as_index=False).first()
    return first.assign(
        auc=[f"{a:.3f} [{lo:.3f}, {hi:.3f}]" if pd.notna(a) else "" for a, lo, hi
             in zip(first["auc"], first["auc_low"], first["auc_high"], strict=True)],
    )[["cut_date", "scorer", "auc", "lift", "stability"]]


def ranking_chart(frame: pd.DataFrame, title: str) -> go.Figure:
    frame = frame.sort_values(["rank", "unit_code"], ascending=[False, False])
    labels = [f"{int(r)}. {n or c}" for r, n, c in zip(frame["rank"], frame["unit_name"], frame["unit_code"],
                                                      strict=True)]
    figure = go.Figure(go.Bar(
        y=labels, x=frame["total_score"], orientation="h",
        marker_color=[BAND_COLOURS.get(b, "#9e9e9e") for b in frame["band"]],
        text=[f"{s:.1f} {b}" for s, b in zip(frame["total_score"], frame["band"], strict=True)],
        textposition="outside", cliponaxis=False))
    return _layout(figure, title, xaxis_range=[0, 118], xaxis_title="total score (0-100)",
                   height=max(320, 28 * len(frame) + 120))
