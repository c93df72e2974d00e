"""双随机 sampling: draw enterprises by class and stratum, then two random inspectors each.

Every random choice is a hash of the recorded seed and the thing chosen (xxhash64), so a
plan is reproduced exactly from its seed and inputs, whatever the partitioning.
"""

from __future__ import annotations

from datetime import date, datetime

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.risk.config import RiskConfig
from jobs.risk.indicators import versions_on

REGION_PREFIX = {"county": 6, "prefecture": 4, "province": 2}
PLAN_COLUMNS = ["plan_id", "as_of_date", "entity_id", "risk_class", "region_code", "stratum_region", "matter_code",
                "department_code", "inspector_cert_nos", "officer_scope", "sampling_ratio", "drawn_at", "seed"]
_SPAN = 2**31 - 1


def uniform(seed: int, *parts: str | Column) -> Column:
    """A reproducible uniform draw in [0, 1) for (seed, parts); a str part is a column name."""
    columns = [F.col(p) if isinstance(p, str) else p for p in parts]
    return F.pmod(F.xxhash64(F.lit(seed), *columns), F.lit(_SPAN)) / F.lit(float(_SPAN))


def region_key(column: str | Column, level: str) -> Column:
    column = F.col(column) if isinstance(column, str) else column
    return F.substring(column, 1, REGION_PREFIX[level])


def eligible_matters(dim_matter: DataFrame, cfg: RiskConfig) -> DataFrame:
    """Listed matters carried out by 双随机 on legal persons (of the configured departments)."""
    sampling = cfg.sampling
    matters = dim_matter.where(
        F.coalesce(F.col("is_listed"), F.lit(True))
        & F.array_contains("methods", sampling.get("matter_method", "双随机"))
        & (F.col("object_types").isNull() | F.array_contains("object_types", sampling.get("matter_object_type", "法人")))
    )
    if sampling.get("departments"):
        matters = matters.where(F.col("department_code").isin(list(sampling["departments"])))
    return matters.select("matter_code", "department_code")


def officers_on_duty(dim_officer: DataFrame, as_of: date) -> DataFrame:
    """Officers 在岗 (and on the roster) on the as-of date."""
    on_duty = versions_on(dim_officer, as_of).where(F.col("is_on_duty") & F.coalesce(F.col("is_on_roster"), F.lit(True)))
    return on_duty.select("cert_no", "dept_code", "region_code", "officer_ric").distinct()


def previous_pairs(plan_history: DataFrame | None, inspections: DataFrame | None, as_of: date) -> DataFrame | None:
    """(entity_id, previous_pair): the sorted inspectors of each enterprise's latest planned or
    performed inspection before this as-of run."""
    parts = []
    if plan_history is not None:
        parts.append(plan_history.where((F.col("as_of_date") < F.lit(as_of)) & F.col("inspector_cert_nos").isNotNull())
                     .select("entity_id", F.col("as_of_date").alias("_on"), F.lit(1).alias("_planned"),
                             F.array_sort("inspector_cert_nos").alias("previous_pair")))
    if inspections is not None:
        parts.append(inspections.where(F.col("entity_id").isNotNull() & (F.col("inspection_date") <= F.lit(as_of))
                                       & (F.size("inspector_cert_nos") > 0))
                     .select("entity_id", F.col("inspection_date").alias("_on"), F.lit(0).alias("_planned"),
                             F.array_sort("inspector_cert_nos").alias("previous_pair")))
    if not parts:
        return None
    union = parts[0] if len(parts) == 1 else parts[0].unionByName(parts[1])
    w = Window.partitionBy("entity_id").orderBy(F.desc("_on"), F.desc("_planned"), F.desc(F.array_join("previous_pair", ",")))
    return union.withColumn("_rank", F.row_number().over(w)).where("_rank = 1").select("entity_id", "previous_pair")


def sample_enterprises(classes: DataFrame, matters: DataFrame, cfg: RiskConfig, seed: int) -> DataFrame:
    """The drawn enterprises: per (region, matter, class) stratum, n * ratio of them."""
    level = cfg.sampling.get("stratify_region_level", "prefecture")
    catalogue = matters.agg(F.array_sort(F.collect_list(F.struct("matter_code", "department_code"))).alias("_matters"))
    pick = F.pmod(F.xxhash64(F.lit(seed), F.lit("matter"), "entity_id"), F.size("_matters")) + 1
    frame = (
        classes.select("entity_id", "risk_class", "region_code").crossJoin(catalogue)
        .where(F.size("_matters") > 0)
        .withColumn("_matter", F.element_at("_matters", pick.cast("int")))
        .select("*", "_matter.matter_code", "_matter.department_code")
        .withColumn("stratum_region", region_key("region_code", level))
    )
    ratios = cfg.sampling["ratios"]
    ratio = F.create_map(*[F.lit(x) for kv in ratios.items() for x in (kv[0], float(kv[1]))])[F.col("risk_class")]
    stratum = ["stratum_region", "matter_code", "risk_class"]
    expected = F.count(F.lit(1)).over(Window.partitionBy(*stratum)) * F.col("sampling_ratio")
    # Whole part always; the fraction by a seeded coin per stratum: unbiased, reproducible.
    coin = uniform(seed, F.lit("stratum"), *stratum)
    take = F.floor(F.col("_expected")) + F.when(coin < F.col("_expected") - F.floor(F.col("_expected")), 1).otherwise(0)
    order = Window.partitionBy(*stratum).orderBy(uniform(seed, F.lit("draw"), "entity_id"), "entity_id")
    return (
        frame.withColumn("sampling_ratio", ratio)
        .withColumn("_expected", expected)
        .withColumn("_take", take)
        .withColumn("_rank", F.row_number().over(order))
        .where(F.col("_rank") <= F.col("_take"))
        .select("entity_id", "risk_class", "region_code", "stratum_region", "matter_code", "department_code", "sampling_ratio")
    )


def choose_inspectors(candidates: Column, previous: Column, k: int) -> Column:
    """The first k candidates, unless they are the previous set: then the (k+1)-th replaces the k-th."""
    first = F.slice(candidates, 1, k)
    alternative = F.concat(F.slice(candidates, 1, k - 1), F.slice(candidates, k + 1, 1))
    return (
        F.when(F.size(candidates) < k, F.lit(None))
        .when(previous.isNull() | (F.array_sort(first) != previous), first)
        .when(F.size(candidates) > k, alternative)
    )


def assign_inspectors(drawn: DataFrame, officers: DataFrame, legal_rep_rics: DataFrame | None,
                      previous: DataFrame | None, cfg: RiskConfig, seed: int) -> DataFrame:
    """Add inspector_cert_nos and officer_scope: k officers of the matter's department in the
    enterprise's region (widened scope by scope), never the legal representative, never the
    enterprise's previous set of inspectors."""
    k = int(cfg.sampling.get("inspectors_per_inspection", 2))
    scopes = list(cfg.sampling.get("officer_scopes", ["prefecture", "province"]))
    key = ["entity_id", "matter_code"]
    pairs = drawn.select(*key, "region_code", "department_code")
    if previous is not None:
        pairs = pairs.join(previous, "entity_id", "left")
    else:
        pairs = pairs.withColumn("previous_pair", F.lit(None).cast("array<string>"))
    chosen = pairs
    for scope in scopes:
        matched = pairs.join(
            officers,
            (officers["dept_code"] == pairs["department_code"])
            & (region_key(officers["region_code"], scope) == region_key(pairs["region_code"], scope)),
        ).select(*key, "cert_no", "officer_ric")
        if legal_rep_rics is not None:
            rics = legal_rep_rics.select("entity_id", F.col("ric").alias("officer_ric"))
            matched = matched.join(rics, ["entity_id", "officer_ric"], "left_anti")
        ranked = matched.groupBy(*key).agg(F.array_sort(F.collect_list(F.struct(
            uniform(seed, F.lit("officer"), "entity_id", "matter_code", "cert_no").alias("u"), F.col("cert_no")
        ))).alias("_candidates"))
        ranked = ranked.select(*key, F.transform("_candidates", lambda c: c["cert_no"]).alias(f"_c_{scope}"))
        chosen = chosen.join(ranked, key, "left")
    picked, scope_name = F.lit(None).cast("array<string>"), F.lit(None).cast("string")
    for scope in reversed(scopes):  # the narrowest scope that yields a valid set wins
        option = choose_inspectors(F.coalesce(F.col(f"_c_{scope}"), F.array().cast("array<string>")), F.col("previous_pair"), k)
        picked = F.when(option.isNotNull(), option).otherwise(picked)
        scope_name = F.when(option.isNotNull(), F.lit(scope)).otherwise(scope_name)
    chosen = chosen.select(*key, picked.alias("inspector_cert_nos"), scope_name.alias("officer_scope"))
    return drawn.join(chosen, key, "left")


def draw_plan(classes: DataFrame, matters: DataFrame, officers: DataFrame, legal_rep_rics: DataFrame | None,
              previous: DataFrame | None, cfg: RiskConfig, as_of: date, seed: int, drawn_at: datetime) -> DataFrame:
    """gold.inspection_plan rows of one as-of run (see docs/RISK.md)."""
    drawn = sample_enterprises(classes, matters, cfg, seed)
    staffed = assign_inspectors(drawn, officers, legal_rep_rics, previous, cfg, seed)
    plan_id = F.concat_ws("-", F.lit("SJ" + as_of.strftime("%Y%m%d")), "department_code", "stratum_region")
    return staffed.select(
        plan_id.alias("plan_id"), F.lit(as_of).alias("as_of_date"), "entity_id", "risk_class", "region_code",
        "stratum_region", "matter_code", "department_code", "inspector_cert_nos", "officer_scope", "sampling_ratio",
        F.lit(drawn_at).cast("timestamp").alias("drawn_at"), F.lit(seed).cast("bigint").alias("seed"),
    )
