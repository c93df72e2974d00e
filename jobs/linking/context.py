"""Name mentions decided by the record's context: trade names, owners' shops, look-alikes.

Complaints and news name businesses the way people speak. Splink compares a mention's
name with registered names; three kinds of mention need what the record says around
the name (its region code, address, complaint text) as well:

* **trade name only** (铭祺): an unlinked mention whose whole name is a 字号 of two or
  three characters links to the one enterprise in the mention's county whose name core
  starts with it. Several there: the industry the record's name or text names (饭馆,
  药店, 装修: `context.industry_words`) must leave exactly one. Otherwise no link.
* **an owner's shop** (陈辉的店, 老王家的饭馆): an unlinked mention of that shape links to
  the one individual business or sole proprietorship (`context.owner_types`) whose legal
  representative has that full name in the mention's county (or city when no county is
  known), or that surname (老王, 小王, 王家) in the mention's county; narrowed by the
  named industry in the same way.
* **look-alike**: a fuzzy name link (not an exact registered name) is dropped when the
  record's own region code puts the business in another county than the enterprise's, or
  when the industry the mention's name states shares no GB/T 4754 section with the
  enterprise's industry. A branch (…分店, (义马店)) may be elsewhere and is not judged
  by county.

Every decision is explainable: gold.entity_xref's `match_rule` names the rule
(`trade_name`, `owner_name`) and `match_score` is the rule's configured confidence, the
precision it reached on generated truth (docs/LINKING.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, BooleanType, StringType, StructField, StructType

from jobs.linking.features import city_of, county_of
from regulake.names import parse_business_name

TRADE_NAME = "trade_name"
OWNER_NAME = "owner_name"
# 陈辉的店, 陈辉家的烩面馆, 老王家的饭馆, 小王的店, 王家的超市: who (+家) + 的 + what.
_OWNER = re.compile(r"^(?P<who>[\u4e00-\u9fff]{1,4}?)(?P<home>家)?的(?P<what>[\u4e00-\u9fff]{1,6})$")
_FAMILIAR = ("老", "小")


@dataclass(frozen=True)
class ContextRules:
    """conf/linking.yaml `context:`."""

    trade_name_chars: tuple[int, int]
    owner_types: tuple[str, ...]
    industry_words: dict[str, tuple[str, ...]]  # word -> GB/T 4754 codes: a section (H) or section + division (H62)
    scores: dict[str, float]                    # rule -> confidence written as match_score

    def industries(self, text: str | None) -> list[str]:
        """The industry codes every listed word in `text` names (longest words first, each span once)."""
        if not text:
            return []
        found: list[str] = []
        rest = text
        for word in sorted(self.industry_words, key=len, reverse=True):
            if word in rest:
                found += [c for c in self.industry_words[word] if c not in found]
                rest = rest.replace(word, "\u0000")
        return found


def owner_of(name: str | None) -> tuple[str | None, str | None]:
    """(full name, surname) of an owner's-shop mention; (None, None) when it is not one.

    陈辉的店 -> (陈辉, 陈); 老王家的饭馆 -> (None, 王); 王家的店 -> (None, 王); 小王的店 -> (None, 王).
    """
    match = _OWNER.match(name or "")
    if not match:
        return None, None
    who, home = match.group("who"), match.group("home")
    if len(who) == 2 and who[0] in _FAMILIAR:
        return None, who[1]
    if len(who) == 1 and home:
        return None, who
    if 2 <= len(who) <= 3 and not (home and len(who) == 1):
        return who, who[0]
    return None, None


def _is_branch(name: str | None) -> bool:
    parsed = parse_business_name(name)
    return bool(parsed and parsed.branch) and owner_of(name) == (None, None)


_CLUES = StructType([
    StructField("owner_full", StringType()), StructField("owner_surname", StringType()),
    StructField("name_industries", ArrayType(StringType())), StructField("text_industries", ArrayType(StringType())),
    StructField("is_branch", BooleanType()),
])


def _clues_udf(rules: ContextRules):
    @F.pandas_udf(_CLUES)
    def clues(names: pd.Series, texts: pd.Series) -> pd.DataFrame:
        owners = [owner_of(n if isinstance(n, str) else None) for n in names]
        return pd.DataFrame({
            "owner_full": [o[0] for o in owners],
            "owner_surname": [o[1] for o in owners],
            "name_industries": [rules.industries(n if isinstance(n, str) else None) for n in names],
            "text_industries": [rules.industries(t if isinstance(t, str) else None) for t in texts],
            "is_branch": [_is_branch(n if isinstance(n, str) else None) for n in names],
        })

    return clues


def mention_clues(mentions: DataFrame, rules: ContextRules) -> DataFrame:
    """Add `owner_full`, `owner_surname`, `is_branch`, `name_industries` and `industries` (the name's,
    else the record text's). Expects `name_text` and `context`."""
    parsed = mentions.withColumn("_c", _clues_udf(rules)(F.col("name_text"), F.col("context")))
    industries = F.when(F.size("_c.name_industries") > 0, F.col("_c.name_industries")).otherwise(
        F.col("_c.text_industries"))
    return parsed.select(
        "*", F.col("_c.owner_full").alias("owner_full"), F.col("_c.owner_surname").alias("owner_surname"),
        F.col("_c.is_branch").alias("is_branch"), F.col("_c.name_industries").alias("name_industries"),
        industries.alias("industries"),
    ).drop("_c")


def _industry_fits(industries: Column, industry_code: Column) -> Column:
    """The enterprise's industry (canonical H62) is among the codes (a section code covers its divisions)."""
    return F.exists(industries, lambda code: (code == industry_code) | (code == F.substring(industry_code, 1, 1)))


def _section_fits(industries: Column, industry_code: Column) -> Column:
    return F.exists(industries, lambda code: F.substring(code, 1, 1) == F.substring(industry_code, 1, 1))


def reject_lookalikes(name_links: DataFrame, mentions: DataFrame, enterprises: DataFrame) -> DataFrame:
    """The name links that survive the look-alike rule (same columns as `name_links`).

    `mentions`: mention_id, region_code (the record's own), is_branch, name_industries;
    `enterprises`: uscc, region_code, industry_code.
    """
    joined = (
        name_links.join(mentions.select("mention_id", "region_code", "is_branch", "name_industries"),
                        "mention_id", "left")
        .join(enterprises.select(F.col("uscc").alias("entity_id"), F.col("region_code").alias("_ent_region"),
                                 F.col("industry_code").alias("_ent_industry")), "entity_id", "left")
    )
    mention_county = county_of(F.col("region_code"))
    other_county = (mention_county.isNotNull() & county_of(F.col("_ent_region")).isNotNull()
                    & (mention_county != F.col("_ent_region")) & ~F.coalesce(F.col("is_branch"), F.lit(False)))
    other_industry = (F.size(F.coalesce("name_industries", F.array())) > 0) & F.col("_ent_industry").isNotNull() \
        & ~_section_fits(F.col("name_industries"), F.col("_ent_industry"))
    lookalike = (F.col("match_method") == "name_fuzzy") & (other_county | other_industry)
    return joined.where(~F.coalesce(lookalike, F.lit(False))).select(*name_links.columns)


def _unique(candidates: DataFrame) -> DataFrame:
    """mention_id -> entity_id where the candidates leave exactly one.

    One candidate: it, unless the mention's own name states an industry of another
    section. Several: the one whose industry fits what the record names, if only one does.
    """
    per_mention = Window.partitionBy("mention_id")
    counted = candidates.withColumn("_n", F.count("*").over(per_mention)).withColumn(
        "_n_fit", F.sum(F.col("_fits").cast("int")).over(per_mention))
    chosen = counted.where(((F.col("_n") == 1) & ~F.col("_conflict")) | ((F.col("_n_fit") == 1) & F.col("_fits")))
    return chosen.select("mention_id", "entity_id", "rule")


def _candidate(rule: str) -> list[Column]:
    """The columns of a (mention m, enterprise e) candidate pair."""
    named = F.coalesce(F.col("m.name_industries"), F.array())
    return [
        F.col("m.mention_id"), F.col("e.entity_id"),
        _industry_fits(F.col("m.industries"), F.col("e.industry_code")).alias("_fits"),
        ((F.size(named) > 0) & ~F.coalesce(_section_fits(named, F.col("e.industry_code")), F.lit(False)))
        .alias("_conflict"),
        F.lit(rule).alias("rule"),
    ]


def decide_by_context(unlinked: DataFrame, enterprises: DataFrame, rules: ContextRules) -> DataFrame:
    """Links of unlinked name mentions by the trade-name and owner's-shop rules.

    `unlinked`: mention features and clues (mention_id, core, name_text, county, city,
    owner_full, owner_surname, name_industries, industries). `enterprises`: uscc, core,
    ent_type, legal_rep_name, industry_code, region_code. Every join is an equi-join on a
    place and a name part, so the work follows the mentions, not the register.
    Returns mention_id, entity_id, match_method, match_score, match_rule.
    """
    lo, hi = rules.trade_name_chars
    ent = enterprises.select(
        F.col("uscc").alias("entity_id"), "core", "ent_type", "legal_rep_name", "industry_code",
        county_of(F.col("region_code")).alias("ent_county"), city_of(F.col("region_code")).alias("ent_city"),
        F.substring("core", 1, 2).alias("ent_trade"), F.substring("legal_rep_name", 1, 1).alias("ent_surname"),
    )
    trade_only = unlinked.where(
        F.col("county").isNotNull() & (F.col("core") == F.col("name_text")) & F.length("core").between(lo, hi)
        & F.col("owner_surname").isNull()
    ).withColumn("trade", F.substring("core", 1, 2))
    by_trade = trade_only.alias("m").join(
        ent.alias("e"),
        (F.col("e.ent_county") == F.col("m.county")) & (F.col("e.ent_trade") == F.col("m.trade"))
        & F.col("e.core").startswith(F.col("m.core")) & (F.length("e.core") > F.length("m.core")),
    ).select(*_candidate(TRADE_NAME))

    shops = ent.where(F.col("ent_type").isin(*rules.owner_types) & F.col("legal_rep_name").isNotNull())
    # Full name: in the county when the mention's is known, else in its city.
    full = unlinked.where(F.col("owner_full").isNotNull() & F.col("city").isNotNull())
    by_full_name = full.alias("m").join(
        shops.alias("e"),
        (F.col("e.legal_rep_name") == F.col("m.owner_full")) & (F.col("e.ent_city") == F.col("m.city"))
        & (F.col("m.county").isNull() | (F.col("e.ent_county") == F.col("m.county"))),
    ).select(*_candidate(OWNER_NAME))
    # Surname only (老王, 王家): in the mention's county, nothing wider.
    surname = unlinked.where(F.col("owner_full").isNull() & F.col("owner_surname").isNotNull()
                             & F.col("county").isNotNull())
    by_surname = surname.alias("m").join(
        shops.alias("e"),
        (F.col("e.ent_surname") == F.col("m.owner_surname")) & (F.col("e.ent_county") == F.col("m.county")),
    ).select(*_candidate(OWNER_NAME))

    chosen = _unique(by_trade.unionByName(by_full_name).unionByName(by_surname))
    score = F.element_at(F.create_map(*[F.lit(x) for pair in rules.scores.items() for x in pair]), F.col("rule"))
    return chosen.select("mention_id", "entity_id", F.lit("name_fuzzy").alias("match_method"),
                         score.cast("double").alias("match_score"), F.col("rule").alias("match_rule"))
