"""Third-level indicators: raw values per enterprise on an as-of date, from the gold marts.

Each measure is a pure function `(gold, as_of, params) -> DataFrame[entity_id, value]` (or
None when a mart it needs is absent); conf/risk.yaml names the measure of each indicator.
Only facts dated on or before the as-of date count, so a past as-of date is re-computable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, timedelta

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from regulake.spark import union_all

Gold = Mapping[str, DataFrame | None]
Measure = Callable[[Gold, date, dict], DataFrame | None]

MEASURES: dict[str, Measure] = {}


def measure(function: Measure) -> Measure:
    MEASURES[function.__name__] = function
    return function


# --- as-of helpers -------------------------------------------------------------------

def as_of_end(as_of: date) -> Column:
    """The first instant after the as-of date: versions valid at the end of that day."""
    return F.lit(as_of + timedelta(days=1)).cast("timestamp")


def on_or_before(column: str | Column, as_of: date) -> Column:
    column = F.col(column) if isinstance(column, str) else column
    return F.to_date(column) <= F.lit(as_of)


def within_days(column: str | Column, as_of: date, days: int) -> Column:
    """Dated in the `days` days ending on the as-of date (inclusive)."""
    column = F.to_date(F.col(column) if isinstance(column, str) else column)
    return (column <= F.lit(as_of)) & (column > F.lit(as_of - timedelta(days=int(days))))


def versions_on(dim: DataFrame, as_of: date) -> DataFrame:
    """The SCD2 version of each key in effect at the end of the as-of date."""
    end = as_of_end(as_of)
    return dim.where((F.col("valid_from") < end) & (F.col("valid_to").isNull() | (F.col("valid_to") >= end)))


def enterprises_on(dim_enterprise: DataFrame, as_of: date, status: str = "存续") -> DataFrame:
    """The enterprises whose status is `status` on the as-of date, one row each."""
    current = versions_on(dim_enterprise, as_of).where(F.col("status") == status)
    # One version per enterprise even if versions overlap: the latest start wins.
    w = Window.partitionBy("entity_id").orderBy(F.desc("valid_from"), F.desc("version_no"))
    return (
        current.withColumn("_rank", F.row_number().over(w)).where("_rank = 1")
        .select("entity_id", "ent_name", "ent_type", "status", "region_code", "industry_code",
                "key_field", "reg_capital", "establish_date")
    )


def penalty_effective_on(as_of: date) -> Column:
    """Not revoked/deleted on the as-of date (a later revocation does not rewrite the past)."""
    return F.col("is_effective") | (F.to_date("publicity_status_since") > F.lit(as_of))


def dishonest_active_on(as_of: date) -> Column:
    """A 失信被执行人 record listed and not removed on the as-of date."""
    return on_or_before("publish_date", as_of) & (
        (F.col("removed_date") > F.lit(as_of))
        | (F.col("removed_date").isNull() & (F.coalesce(F.col("performance_status"), F.lit("")) != "已履行"))
    )


def abnormal_listed_on(as_of: date) -> Column:
    return on_or_before("listed_date", as_of) & (F.col("removed_date").isNull() | (F.col("removed_date") > F.lit(as_of)))


def _count(df: DataFrame | None, value: Column | None = None) -> DataFrame | None:
    """Per enterprise: the number of rows, or `value` aggregated; None where the gold table is absent."""
    if df is None:
        return None
    agg = F.count(F.lit(1)) if value is None else value
    return df.where(F.col("entity_id").isNotNull()).groupBy("entity_id").agg(agg.cast("double").alias("value"))


def _flagged_within(gold: Gold, table: str, flag: str, date_column: str, as_of: date, days: int) -> DataFrame | None:
    """Rows of a gold table with `flag` set and `date_column` in the window ending on the as-of date."""
    rows = gold.get(table)
    return None if rows is None else rows.where(F.col(flag) & within_days(date_column, as_of, days))


def _share(df: DataFrame, column: str, shares: dict) -> DataFrame:
    mapping = F.create_map(*[F.lit(x) for kv in shares.items() for x in (kv[0], float(kv[1]))])
    return df.select("entity_id", F.coalesce(mapping[F.col(column)], F.lit(0.0)).alias("value"))


def legal_reps(gold: Gold) -> DataFrame | None:
    bridge = gold.get("bridge_enterprise_person")
    if bridge is None:
        return None
    return bridge.where(F.col("role") == "legal_representative").select("entity_id", "person_id").distinct()


# --- 企业基础属性信息 -------------------------------------------------------------------

@measure
def enterprise_age_years(gold: Gold, as_of: date, params: dict) -> DataFrame | None:
    frame = gold["enterprises"]
    return frame.select("entity_id", (F.datediff(F.lit(as_of), "establish_date") / 365.25).alias("value"))


@measure
def registered_capital(gold: Gold, as_of: date, params: dict) -> DataFrame | None:
    return gold["enterprises"].select("entity_id", F.col("reg_capital").cast("double").alias("value"))


@measure
def enterprise_type_share(gold: Gold, as_of: date, params: dict) -> DataFrame | None:
    return _share(gold["enterprises"], "ent_type", params["shares"])


@measure
def key_field_share(gold: Gold, as_of: date, params: dict) -> DataFrame | None:
    return _share(gold["enterprises"], "key_field", params["shares"])


# --- 企业动态信息 -----------------------------------------------------------------------

def _register_versions(gold: Gold, as_of: date) -> DataFrame | None:
    dim = gold.get("dim_enterprise")
    if dim is None:
        return None
    w = Window.partitionBy("entity_id").orderBy("valid_from", "version_no")
    return (
        dim.where(F.col("valid_from") < as_of_end(as_of))
        .withColumn("_previous_name", F.lag("ent_name").over(w))
        .withColumn("_previous_address", F.lag("address").over(w))
        .withColumn("_seq", F.row_number().over(w))
    )


@measure
def register_changes(gold: Gold, as_of: date, params: dict) -> DataFrame | None:
    versions = _register_versions(gold, as_of)
    if versions is None:
        return None
    changed = versions.where((F.col("_seq") > 1) & within_days("valid_from", as_of, params["window_days"]))
    return _count(changed)


@measure
def name_or_address_changes(gold: Gold, as_of: date, params: dict) -> DataFrame | None:
    versions = _register_versions(gold, as_of)
    if versions is None:
        return None
    changed = versions.where(
        (F.col("_seq") > 1)
        & within_days("valid_from", as_of, params["window_days"])
        & (~F.col("ent_name").eqNullSafe(F.col("_previous_name")) | ~F.col("address").eqNullSafe(F.col("_previous_address")))
    )
    return _count(changed)


@measure
def abnormal_listings(gold: Gold, as_of: date, params: dict) -> DataFrame | None:
    listings = gold.get("fct_abnormal_listing")
    if listings is None:
        return None
    listings = listings.where(within_days("listed_date", as_of, params["window_days"]))
    if params.get("reason_contains"):
        listings = listings.where(F.col("reason").contains(params["reason_contains"]))
    return _count(listings)


@measure
def licences_lapsed(gold: Gold, as_of: date, params: dict) -> DataFrame | None:
    """Licence types whose every licence issued by the as-of date has expired by then."""
    licences = gold.get("fct_license")
    if licences is None:
        return None
    issued = licences.where(on_or_before("issue_date", as_of) & F.col("entity_id").isNotNull())
    per_type = issued.groupBy("entity_id", "license_type").agg(
        F.max(F.when(F.col("valid_until").isNull() | (F.col("valid_until") >= F.lit(as_of)), 1).otherwise(0)).alias("_valid")
    )
    return _count(per_type.where("_valid = 0"))


# --- 监管信息 -----------------------------------------------------------------------------

def _penalties_in_window(gold: Gold, as_of: date, params: dict) -> DataFrame | None:
    penalties = gold.get("fct_penalty")
    if penalties is None:
        return None
    penalties = penalties.where(penalty_effective_on(as_of) & within_days("decision_date", as_of, params["window_days"]))
    if params.get("severities"):
        penalties = penalties.where(F.col("severity").isin(list(params["severities"])))
    return penalties


@measure
def penalties(gold: Gold, as_of: date, params: dict) -> DataFrame | None:
    return _count(_penalties_in_window(gold, as_of, params))


@measure
def penalty_amount(gold: Gold, as_of: date, params: dict) -> DataFrame | None:
    found = _penalties_in_window(gold, as_of, params)
    if found is None:
        return None
    amount = F.sum(F.coalesce(F.col("fine_amount"), F.lit(0)) + F.coalesce(F.col("confiscated_amount"), F.lit(0)))
    return _count(found, amount)


def _inspections_in_window(gold: Gold, as_of: date, params: dict) -> DataFrame | None:
    inspections = gold.get("fct_inspection")
    if inspections is None:
        return None
    return inspections.where(within_days("inspection_date", as_of, params["window_days"]))


@measure
def inspections(gold: Gold, as_of: date, params: dict) -> DataFrame | None:
    """Inspections of any kind: targeted ones (重点, 投诉举报) follow suspicion."""
    return _count(_inspections_in_window(gold, as_of, params))


@measure
def inspection_problems(gold: Gold, as_of: date, params: dict) -> DataFrame | None:
    found = _inspections_in_window(gold, as_of, params)
    return None if found is None else _count(found.where(F.col("is_problem_found")))


@measure
def inspection_problem_rate(gold: Gold, as_of: date, params: dict) -> DataFrame | None:
    found = _inspections_in_window(gold, as_of, params)
    if found is None:
        return None
    rate = F.avg(F.when(F.col("is_problem_found"), 1.0).otherwise(0.0))
    return _count(found, rate)


@measure
def rectification_overdue(gold: Gold, as_of: date, params: dict) -> DataFrame | None:
    """Problems past their rectification due date and not rectified on the as-of date."""
    inspections = gold.get("fct_inspection")
    if inspections is None:
        return None
    overdue = inspections.where(
        F.col("is_problem_found")
        & on_or_before("inspection_date", as_of)
        & (F.col("rectification_due_date") < F.lit(as_of))
        & (F.col("rectified_date").isNull() | (F.col("rectified_date") > F.lit(as_of)))
    )
    return _count(overdue)


@measure
def abnormal_listed_now(gold: Gold, as_of: date, params: dict) -> DataFrame | None:
    listings = gold.get("fct_abnormal_listing")
    return None if listings is None else _count(listings.where(abnormal_listed_on(as_of)))


@measure
def licences_revoked(gold: Gold, as_of: date, params: dict) -> DataFrame | None:
    licences = gold.get("fct_license")
    if licences is None:
        return None
    revoked = licences.where(F.col("status").isin(list(params["statuses"])) & on_or_before("updated_at", as_of))
    return _count(revoked)


@measure
def env_penalties(gold: Gold, as_of: date, params: dict) -> DataFrame | None:
    env = gold.get("fct_env_penalty")
    if env is None:
        return None
    env = env.where(within_days("decision_date", as_of, params["window_days"]))
    if params.get("serious_only"):
        env = env.where(F.col("is_serious"))
    return _count(env)


# --- 关联关系信息 ---------------------------------------------------------------------------

@measure
def legal_rep_dishonest(gold: Gold, as_of: date, params: dict) -> DataFrame | None:
    reps, court = legal_reps(gold), gold.get("fct_court_dishonest")
    if reps is None or court is None:
        return None
    listed = court.where(F.col("is_natural_person") & dishonest_active_on(as_of)).select("person_id").distinct()
    return _count(reps.join(listed, "person_id"))


def _related(gold: Gold) -> DataFrame | None:
    """(entity_id, related_id): other enterprises of the same legal representative."""
    reps = legal_reps(gold)
    if reps is None:
        return None
    other = reps.select("person_id", F.col("entity_id").alias("related_id"))
    return reps.join(other, "person_id").where(F.col("entity_id") != F.col("related_id")).select("entity_id", "related_id").distinct()


@measure
def related_revoked(gold: Gold, as_of: date, params: dict) -> DataFrame | None:
    related, dim = _related(gold), gold.get("dim_enterprise")
    if related is None or dim is None:
        return None
    revoked = versions_on(dim, as_of).where(F.col("status").isin(list(params["statuses"]))).select(F.col("entity_id").alias("related_id"))
    return _count(related.join(revoked.distinct(), "related_id"))


@measure
def related_sanctioned(gold: Gold, as_of: date, params: dict) -> DataFrame | None:
    related = _related(gold)
    if related is None:
        return None
    sanctioned = []
    if gold.get("fct_abnormal_listing") is not None:
        sanctioned.append(gold["fct_abnormal_listing"].where(abnormal_listed_on(as_of)).select("entity_id"))
    penalised = _penalties_in_window(gold, as_of, params)
    if penalised is not None:
        sanctioned.append(penalised.select("entity_id"))
    if not sanctioned:
        return None
    ids = union_all(sanctioned).where(F.col("entity_id").isNotNull()).distinct()
    return _count(related.join(ids.withColumnRenamed("entity_id", "related_id"), "related_id"))


@measure
def legal_rep_enterprises(gold: Gold, as_of: date, params: dict) -> DataFrame | None:
    reps = legal_reps(gold)
    if reps is None:
        return None
    per_person = reps.groupBy("person_id").agg(F.countDistinct("entity_id").alias("_n"))
    return reps.join(per_person, "person_id").groupBy("entity_id").agg(F.max("_n").cast("double").alias("value"))


# --- 社会评价信息 ---------------------------------------------------------------------------

def complaints_in(gold: Gold, as_of: date, days: int, substantiated_only: bool) -> DataFrame | None:
    tickets = _flagged_within(gold, "fct_hotline_ticket", "is_complaint", "received_at", as_of, days)
    return tickets.where(F.col("is_substantiated")) if substantiated_only and tickets is not None else tickets


@measure
def complaints(gold: Gold, as_of: date, params: dict) -> DataFrame | None:
    return _count(complaints_in(gold, as_of, params["window_days"], bool(params.get("substantiated_only"))))


@measure
def hotline_tickets(gold: Gold, as_of: date, params: dict) -> DataFrame | None:
    """Every 12345 ticket linked to the enterprise (consultations too: attention is evidence)."""
    tickets = gold.get("fct_hotline_ticket")
    return None if tickets is None else _count(tickets.where(within_days("received_at", as_of, params["window_days"])))


@measure
def complaints_decayed(gold: Gold, as_of: date, params: dict) -> DataFrame | None:
    """Complaints weighted by recency: one received on the as-of date counts 1, one
    `half_life_days` earlier 0.5 (recent behaviour says more than old)."""
    found = complaints_in(gold, as_of, params["window_days"], bool(params.get("substantiated_only")))
    if found is None:
        return None
    age = F.datediff(F.lit(as_of), F.to_date("received_at")).cast("double")
    return _count(found, F.sum(F.pow(F.lit(0.5), age / F.lit(float(params["half_life_days"])))))


@measure
def complaint_trend(gold: Gold, as_of: date, params: dict) -> DataFrame | None:
    """Complaints of the last `recent_days` above what the `baseline_days` before them predict
    (their rate times `recent_days`): positive when complaints are rising."""
    recent_days, baseline_days = int(params["recent_days"]), int(params["baseline_days"])
    found = complaints_in(gold, as_of, recent_days + baseline_days, False)
    if found is None:
        return None
    recent = F.to_date("received_at") > F.lit(as_of - timedelta(days=recent_days))
    expected = F.sum(F.when(~recent, 1.0).otherwise(0.0)) * F.lit(recent_days / baseline_days)
    return _count(found, F.sum(F.when(recent, 1.0).otherwise(0.0)) - expected)


def _mentions(gold: Gold, as_of: date, params: dict) -> DataFrame | None:
    mentions = gold.get("fct_sentiment_mention")
    return None if mentions is None else mentions.where(within_days("published_at", as_of, params["window_days"]))


@measure
def mentions(gold: Gold, as_of: date, params: dict) -> DataFrame | None:
    return _count(_mentions(gold, as_of, params), F.countDistinct("item_id"))


@measure
def negative_share(gold: Gold, as_of: date, params: dict) -> DataFrame | None:
    """The share of the enterprise's online mentions that are negative (null: no mention)."""
    return _count(_mentions(gold, as_of, params), F.avg(F.when(F.col("is_negative"), 1.0).otherwise(0.0)))


def _negative(gold: Gold, as_of: date, params: dict) -> DataFrame | None:
    return _flagged_within(gold, "fct_sentiment_mention", "is_negative", "published_at", as_of, params["window_days"])


@measure
def negative_mentions(gold: Gold, as_of: date, params: dict) -> DataFrame | None:
    return _count(_negative(gold, as_of, params), F.countDistinct("item_id"))


@measure
def negative_heat(gold: Gold, as_of: date, params: dict) -> DataFrame | None:
    return _count(_negative(gold, as_of, params), F.sum(F.coalesce(F.col("heat"), F.lit(0))))


def _latest_tax_rating(gold: Gold, as_of: date) -> DataFrame | None:
    """The latest rating known on the as-of date (ratings of year Y are published in Y+1)."""
    tax = gold.get("fct_tax_credit")
    if tax is None:
        return None
    known = tax.where(
        F.col("entity_id").isNotNull()
        & F.coalesce(on_or_before("updated_date", as_of), F.col("eval_year").cast("int") < F.lit(as_of.year))
    )
    w = Window.partitionBy("entity_id").orderBy(F.desc(F.col("eval_year").cast("int")), F.desc("updated_date"))
    return known.withColumn("_rank", F.row_number().over(w)).where("_rank = 1")


@measure
def tax_grade_share(gold: Gold, as_of: date, params: dict) -> DataFrame | None:
    latest = _latest_tax_rating(gold, as_of)
    return None if latest is None else _share(latest, "credit_grade", params["shares"])


@measure
def tax_arrears(gold: Gold, as_of: date, params: dict) -> DataFrame | None:
    latest = _latest_tax_rating(gold, as_of)
    if latest is None:
        return None
    return latest.select("entity_id", F.when(F.col("has_arrears"), 1.0).otherwise(0.0).alias("value"))


@measure
def tax_arrears_amount(gold: Gold, as_of: date, params: dict) -> DataFrame | None:
    latest = _latest_tax_rating(gold, as_of)
    if latest is None:
        return None
    return latest.select("entity_id", F.coalesce(F.col("arrears_amount"), F.lit(0)).cast("double").alias("value"))


def _arrears(gold: Gold, as_of: date, params: dict) -> DataFrame | None:
    return _flagged_within(
        gold, "fct_social_insurance_arrears", "has_arrears", "period_start_date", as_of, params["window_days"]
    )


@measure
def social_insurance_arrears_months(gold: Gold, as_of: date, params: dict) -> DataFrame | None:
    return _count(_arrears(gold, as_of, params), F.countDistinct("period"))


@measure
def social_insurance_arrears_amount(gold: Gold, as_of: date, params: dict) -> DataFrame | None:
    return _count(_arrears(gold, as_of, params), F.sum(F.coalesce(F.col("arrears_amount"), F.lit(0))))


@measure
def dishonest_records(gold: Gold, as_of: date, params: dict) -> DataFrame | None:
    court = gold.get("fct_court_dishonest")
    if court is None:
        return None
    own = court.where(~F.col("is_natural_person") & within_days("publish_date", as_of, params["window_days"]))
    return _count(own)


# --- coverage: where a measure has no data rather than zero ------------------------------------

# The dated facts each measure counts, by mart, and the date column that says when a fact happened.
# Before a mart's first fact (its feed's history starts there) a count is unknown, not zero: the
# training rows of a learned model mark such indicators (`uncovered`) instead of reading 0.
# Measures of the register alone (age, capital, type, changes, relations) are not listed.
MART_DATES = {
    "fct_abnormal_listing": "listed_date", "fct_license": "issue_date", "fct_penalty": "decision_date",
    "fct_inspection": "inspection_date", "fct_env_penalty": "decision_date", "fct_court_dishonest": "publish_date",
    "fct_hotline_ticket": "received_at", "fct_sentiment_mention": "published_at", "fct_tax_credit": "updated_date",
    "fct_social_insurance_arrears": "period_start_date",
}
MEASURE_MARTS = {
    "abnormal_listings": ("fct_abnormal_listing",), "abnormal_listed_now": ("fct_abnormal_listing",),
    "licences_lapsed": ("fct_license",), "licences_revoked": ("fct_license",),
    "penalties": ("fct_penalty",), "penalty_amount": ("fct_penalty",),
    "inspections": ("fct_inspection",), "inspection_problems": ("fct_inspection",),
    "inspection_problem_rate": ("fct_inspection",), "rectification_overdue": ("fct_inspection",),
    "env_penalties": ("fct_env_penalty",), "legal_rep_dishonest": ("fct_court_dishonest",),
    "related_sanctioned": ("fct_abnormal_listing", "fct_penalty"), "dishonest_records": ("fct_court_dishonest",),
    "complaints": ("fct_hotline_ticket",), "hotline_tickets": ("fct_hotline_ticket",),
    "complaints_decayed": ("fct_hotline_ticket",), "complaint_trend": ("fct_hotline_ticket",),
    "mentions": ("fct_sentiment_mention",), "negative_share": ("fct_sentiment_mention",),
    "negative_mentions": ("fct_sentiment_mention",), "negative_heat": ("fct_sentiment_mention",),
    "tax_grade_share": ("fct_tax_credit",), "tax_arrears": ("fct_tax_credit",), "tax_arrears_amount": ("fct_tax_credit",),
    "social_insurance_arrears_months": ("fct_social_insurance_arrears",),
    "social_insurance_arrears_amount": ("fct_social_insurance_arrears",),
}


# Measures whose null means "no data" (no rating, no mention to take a share of, no register
# value); every other measure counts facts, and its null means none happened: 0.
NULL_IS_UNKNOWN = frozenset({
    "enterprise_age_years", "registered_capital", "enterprise_type_share", "key_field_share",
    "inspection_problem_rate", "negative_share", "tax_grade_share", "tax_arrears", "tax_arrears_amount",
    "legal_rep_enterprises",
})


def coverage_starts(gold: Gold) -> dict[str, date | None]:
    """The date of each mart's first fact (None: absent or empty)."""
    starts = {}
    for mart, column in MART_DATES.items():
        rows = gold.get(mart)
        starts[mart] = None if rows is None else rows.agg(F.min(F.to_date(column))).first()[0]
    return starts


def uncovered(indicators, starts: dict[str, date | None], as_of: date) -> list[str]:
    """Codes of the indicators with no data on the as-of date: a mart they count starts after it."""
    return [i.code for i in indicators
            if any(starts.get(mart) is None or starts[mart] > as_of for mart in MEASURE_MARTS.get(i.measure, ()))]


# --- all indicators ---------------------------------------------------------------------------

def indicator_values(gold: Gold, as_of: date, indicators) -> DataFrame:
    """Long format (entity_id, indicator_code, value) for the enterprises of the frame.

    `gold["enterprises"]` is the frame (enterprises_on); indicators whose marts are
    absent produce no rows (scored as missing).
    """
    frame_ids = gold["enterprises"].select("entity_id")
    parts = []
    for indicator in indicators:
        values = MEASURES[indicator.measure](gold, as_of, indicator.params)
        if values is None:
            continue
        parts.append(values.select("entity_id", F.lit(indicator.code).alias("indicator_code"),
                                   F.col("value").cast("double").alias("value")))
    if not parts:
        spark = frame_ids.sparkSession
        return spark.createDataFrame([], "entity_id string, indicator_code string, value double")
    # One join with the frame for all indicators (not one per indicator).
    return union_all(parts).join(frame_ids, "entity_id")
