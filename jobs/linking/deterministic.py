"""Deterministic links: identifiers that name exactly one registered enterprise.

* USCC -> the enterprise; organisation code -> the enterprise whose USCC embeds it
  (chars 9-17); old registration number -> the crosswalk samr_enterprise carries;
  old 15-char tax id -> its organisation code (chars 7-15); RIC of a natural person ->
  the enterprise(s) the person legally represents.
* The identifier must be valid (check character; standard §2: one that fails is never
  used) and not flagged by silver. A value valid as several kinds (a 15-digit number
  can be both an old tax id and a registration number) is tried in the feed's
  `id_kinds` order; the first kind naming exactly one enterprise wins.
* A natural person representing several enterprises links to the one in the court's
  county, else city (`decision.person_tie_break`); otherwise no link (precision first;
  every relation is in gold.enterprise_person).

Validation reuses `regulake.identifiers` (one definition of each check rule) inside
an Arrow UDF.
"""

from __future__ import annotations

import pandas as pd
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, StringType, StructField, StructType

from jobs.linking.config import LinkingConfig
from regulake import identifiers as ids

# Which checks can apply, by compact length (the checks themselves are regulake.identifiers').
_KIND_CHECKS = {
    18: (("uscc", ids.is_valid_uscc), ("ric", ids.is_valid_ric)),
    9: (("org_code", ids.is_valid_org_code),),
    15: (("tax_id", ids.is_valid_tax_id), ("reg_no", ids.is_valid_reg_no)),
}


# A StructType, not a DDL string: workers re-import this module without a session.
_CLASSIFIED = StructType([StructField("id_value", StringType()), StructField("id_kinds", ArrayType(StringType()))])


# Not decorated at import: PySpark builds a classic or a Spark Connect UDF depending on the session
# that exists when the UDF is made, so it is made where it is used.
def _classify(values: pd.Series) -> pd.DataFrame:
    compact = values.map(lambda v: ids.compact_identifier(v) if isinstance(v, str) else None)

    def kinds(code: str | None) -> list[str]:
        if not code:
            return []
        return [kind for kind, check in _KIND_CHECKS.get(len(code), ()) if check(code)]

    return pd.DataFrame({"id_value": compact, "id_kinds": compact.map(kinds)})


def classify_identifiers(mentions: DataFrame) -> DataFrame:
    """Add id_value (compact form) and id_kinds (every kind the value is valid as)."""
    classified = mentions.withColumn("_id", F.pandas_udf(_classify, _CLASSIFIED)(F.col("id_raw")))
    return classified.select(
        *mentions.columns,
        F.col("_id.id_value").alias("id_value"),
        # A flagged identifier is unusable whatever our own check says.
        F.when(F.col("id_flagged"), F.array().cast(ArrayType(StringType()))).otherwise(F.col("_id.id_kinds")).alias("id_kinds"),
    )


def identifier_index(enterprises: DataFrame) -> DataFrame:
    """(kind, key, entity_id) for uscc, org_code, reg_no and ric (legal representatives).

    `enterprises` is the latest registration per USCC (uscc, org_code, reg_no,
    legal_rep_id_no). The organisation code comes from the USCC itself, so enterprises
    whose org_code column was not delivered are found too.
    """
    def compact(column: str):
        return F.upper(F.regexp_replace(F.col(column), r"[\s\-_]", ""))

    uscc = enterprises.select(F.lit("uscc").alias("kind"), F.col("uscc").alias("key"), F.col("uscc").alias("entity_id"))
    org = enterprises.select(
        F.lit("org_code").alias("kind"), F.substring("uscc", 9, 9).alias("key"), F.col("uscc").alias("entity_id")
    ).unionByName(
        enterprises.select(F.lit("org_code").alias("kind"), compact("org_code").alias("key"), F.col("uscc").alias("entity_id"))
    )
    reg = enterprises.select(F.lit("reg_no").alias("kind"), compact("reg_no").alias("key"), F.col("uscc").alias("entity_id"))
    ric = enterprises.select(F.lit("ric").alias("kind"), compact("legal_rep_id_no").alias("key"),
                             F.col("uscc").alias("entity_id"))
    return uscc.unionByName(org).unionByName(reg).unionByName(ric).where(F.col("key").isNotNull()).distinct()


def _feed_kinds(config: LinkingConfig):
    pairs = []
    for feed_id, spec in config.feeds.items():
        pairs += [F.lit(feed_id), F.array(*[F.lit(k) for k in spec.id_kinds]).cast("array<string>")]
    return F.create_map(*pairs)


def lookup_keys(classified: DataFrame, config: LinkingConfig) -> DataFrame:
    """(mention_id, priority, method, kind, key): every index lookup a mention's identifier allows.

    A business mention tries each kind its value is valid as and its feed allows, in the
    feed's order (`priority`); an old tax id is looked up by its organisation code. A
    natural person is looked up by RIC among legal representatives.
    """
    usable = classified.where(F.size("id_kinds") > 0)
    business = (
        usable.where(~F.col("is_person"))
        .withColumn("_allowed", F.element_at(_feed_kinds(config), F.col("feed_id")))
        .select("mention_id", "id_value", F.posexplode("_allowed").alias("priority", "method"), "id_kinds")
        .where(F.array_contains("id_kinds", F.col("method")))
        .select(
            "mention_id", "priority", "method",
            F.when(F.col("method") == "tax_id", F.lit("org_code")).otherwise(F.col("method")).alias("kind"),
            F.when(F.col("method") == "tax_id", F.substring("id_value", 7, 9)).otherwise(F.col("id_value")).alias("key"),
        )
    )
    persons = usable.where(F.col("is_person") & F.array_contains("id_kinds", "ric")).select(
        "mention_id", F.lit(0).alias("priority"), F.lit("ric").alias("method"), F.lit("ric").alias("kind"),
        F.col("id_value").alias("key"),
    )
    return business.unionByName(persons)


def link_by_identifier(classified: DataFrame, index: DataFrame, enterprises: DataFrame,
                       config: LinkingConfig) -> DataFrame:
    """Identifier links: mention_id, entity_id, match_method, match_score (1.0).

    Only mentions an identifier resolves are returned; `identifier_outcome` routes the others.
    """
    keys = lookup_keys(classified, config)
    hits = keys.where(F.col("method") != "ric").join(index, ["kind", "key"])
    per_kind = hits.groupBy("mention_id", "priority", "method").agg(
        F.countDistinct("entity_id").alias("n"), F.min("entity_id").alias("entity_id")
    ).where("n = 1")
    first = Window.partitionBy("mention_id").orderBy("priority")
    business_links = (
        per_kind.withColumn("_rank", F.row_number().over(first)).where("_rank = 1")
        .select("mention_id", "entity_id", F.col("method").alias("match_method"))
    )
    persons = keys.where(F.col("method") == "ric").join(
        classified.select("mention_id", "court_region"), "mention_id"
    )
    return business_links.unionByName(_person_links(persons, index, enterprises, config)).withColumn(
        "match_score", F.lit(1.0)
    )


def _person_links(persons: DataFrame, index: DataFrame, enterprises: DataFrame, config: LinkingConfig) -> DataFrame:
    represented = (
        persons.join(index.where("kind = 'ric'"), ["kind", "key"])
        .join(enterprises.select(F.col("uscc").alias("entity_id"), "region_code"), "entity_id")
        .select("mention_id", "entity_id", "region_code", "court_region")
    )
    # A unique represented enterprise links; several: the one in the court's county,
    # else city; still several or none there: no link.
    scored = represented.withColumn("n_all", F.count("*").over(Window.partitionBy("mention_id")))
    choices = [F.col("n_all") == 1]
    if "county" in config.person_tie_break:
        choices.append(F.col("region_code") == F.col("court_region"))
    if "city" in config.person_tie_break:
        choices.append(F.substring("region_code", 1, 4) == F.substring("court_region", 1, 4))
    # Tier = the first rule the enterprise satisfies; the mention links when exactly one
    # enterprise sits in the best tier any enterprise reaches.
    tier = F.coalesce(*[F.when(rule, F.lit(i)) for i, rule in enumerate(choices)])
    ranked = scored.withColumn("tier", tier).where(F.col("tier").isNotNull())
    best = ranked.withColumn("best", F.min("tier").over(Window.partitionBy("mention_id"))).where("tier = best")
    return (
        best.withColumn("n_best", F.count("*").over(Window.partitionBy("mention_id")))
        .where("n_best = 1")
        .select("mention_id", "entity_id", F.lit("ric").alias("match_method"))
    )


def identifier_outcome(classified: DataFrame, id_links: DataFrame, config: LinkingConfig) -> DataFrame:
    """Mentions without an identifier link, routed (`to_names`, `id_region`) by `route_to_names`."""
    return route_to_names(classified.join(id_links.select("mention_id"), "mention_id", "left_anti"), config)


def route_to_names(classified: DataFrame, config: LinkingConfig) -> DataFrame:
    """Add `to_names` (may name linking try this mention?) and `id_region`.

    A valid USCC, organisation code or old tax id (of a kind the feed allows) or the
    RIC of a natural person that names no registered enterprise stays unlinked: the
    identifier says it is some business that is not registered (yet; it is retried
    when enterprises are registered). An old registration number may miss only because
    samr_enterprise delivers the crosswalk for some enterprises, so those records, and
    records whose identifier is absent, invalid or flagged, go to name linking when
    they carry a name; a registration number's first six digits (the registering
    authority's region) are kept as region evidence (`id_region`).
    """
    allowed = F.when(F.col("is_person"), F.array(F.lit("ric"))).otherwise(
        F.element_at(_feed_kinds(config), F.col("feed_id"))
    )
    usable = F.array_intersect("id_kinds", allowed)
    decisive = F.exists(usable, lambda k: k.isin("uscc", "org_code", "tax_id", "ric"))
    return classified.withColumn("to_names", F.col("name").isNotNull() & ~F.col("is_person") & ~decisive).withColumn(
        "id_region", F.when(F.array_contains(usable, "reg_no"), F.substring("id_value", 1, 6))
    )
