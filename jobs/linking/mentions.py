"""Business mentions: the records of every silver feed that refer to a business, in one shape.

A *mention* is what one gold.entity_xref row is about: one current record (or, for
sentiment, one item of `mentioned_names`, record_key `<item_id>|<pos>`). It carries
what linking may use — the identifier as delivered, whether silver flagged it, the
name, address and region evidence, the text around the name — and a hash of exactly those inputs, so an
incremental run relinks a record only when something linking looks at has changed.
"""

from __future__ import annotations

from functools import reduce

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.linking.config import FeedSpec, LinkingConfig
from regulake.spark import union_all

MENTION_COLUMNS = (
    "feed_id", "record_key", "mention_id", "id_raw", "id_flagged", "is_person",
    "name", "address", "region_code", "court_region", "context", "input_hash",
)
_CASE_COURT = r"豫(\d{2})(\d{2})?"  # (2024)豫0105执1234号: court of 410105; 豫01: the city's court


def _optional(df: DataFrame, column: str | None) -> Column:
    """A column of the feed, or null when the spec names none (or silver lacks it)."""
    if column and column in df.columns:
        return F.col(column).cast("string")
    return F.lit(None).cast("string")


def _blank_to_null(column: Column) -> Column:
    trimmed = F.trim(column)
    return F.when(trimmed == "", None).otherwise(trimmed)


def _court_region(case_code: Column) -> Column:
    city = F.regexp_extract(case_code, _CASE_COURT, 1)
    county = F.regexp_extract(case_code, _CASE_COURT, 2)
    return (
        F.when(city == "", None)
        .when(county == "", F.concat(F.lit("41"), city, F.lit("00")))
        .otherwise(F.concat(F.lit("41"), city, county))
    )


def _id_flagged(df: DataFrame, id_columns: list[str]) -> Column:
    # Silver flags an identifier failing its check char (`uscc:check_digit`) or an invalid
    # optional one; such a value is never used for linking (standard §2).
    if not id_columns or "_dq_flags" not in df.columns:
        return F.lit(False)
    prefixes = [f"{c}:" for c in id_columns]
    return F.coalesce(
        F.exists("_dq_flags", lambda flag: reduce(lambda a, b: a | b, [flag.startswith(p) for p in prefixes])),
        F.lit(False),
    )


def extract_mentions(silver_current: DataFrame, spec: FeedSpec) -> DataFrame:
    """The mentions of one feed's current records (columns MENTION_COLUMNS)."""
    df = silver_current
    id_columns = [c for c in spec.id_columns if c in df.columns]
    id_raw = F.coalesce(*[_blank_to_null(F.col(c).cast("string")) for c in id_columns]) if id_columns \
        else F.lit(None).cast("string")
    if spec.person_column and spec.person_column in df.columns:
        is_person = F.coalesce(F.trim(F.col(spec.person_column)).isin(*spec.person_values), F.lit(False))
    else:
        is_person = F.lit(False)
    court = _court_region(F.col(spec.court_region_from)) if spec.court_region_from in df.columns \
        else F.lit(None).cast("string")
    region = _blank_to_null(_optional(df, spec.region))
    base = df.select(
        F.lit(spec.feed_id).alias("feed_id"),
        F.col("_record_key").alias("record_key"),
        id_raw.alias("id_raw"),
        _id_flagged(df, id_columns).alias("id_flagged"),
        is_person.alias("is_person"),
        _blank_to_null(_optional(df, spec.name)).alias("name"),
        _blank_to_null(_optional(df, spec.address)).alias("address"),
        F.when(region.rlike(r"^\d{6}$"), region).alias("region_code"),
        court.alias("court_region"),
        _blank_to_null(_optional(df, spec.context)).alias("context"),
        *([F.col(spec.names_list).alias("_names")] if spec.names_list else []),
    )
    if spec.names_list:
        # One mention per listed name; positions are those of the delivered list (0-based).
        base = (
            base.select("*", F.posexplode(F.col("_names")).alias("_pos", "_item"))
            .withColumn("record_key", F.concat_ws("|", "record_key", F.col("_pos").cast("string")))
            .withColumn("name", _blank_to_null(F.col("_item")))
            .drop("_names", "_pos", "_item")
        )
    # No identifier, no name and not a person: the record refers to no business.
    base = base.where(F.col("id_raw").isNotNull() | F.col("name").isNotNull() | F.col("is_person"))
    return with_input_hash(base.withColumn("mention_id", F.concat_ws("#", "feed_id", "record_key"))).select(
        *MENTION_COLUMNS
    )


def with_input_hash(mentions: DataFrame) -> DataFrame:
    """sha256 of what linking reads from a mention; a change means the record is relinked."""
    parts = [F.coalesce(F.col(c).cast("string"), F.lit("\u0000")) for c in
             ("id_raw", "id_flagged", "is_person", "name", "address", "region_code", "court_region", "context")]
    return mentions.withColumn("input_hash", F.sha2(F.concat_ws("\u0001", *parts), 256))


def all_mentions(silver_current: dict[str, DataFrame], config: LinkingConfig) -> DataFrame:
    """The mentions of every configured feed present in `silver_current` (feed_id -> DataFrame)."""
    frames = [extract_mentions(df, config.feeds[feed_id]) for feed_id, df in silver_current.items()
              if feed_id in config.feeds]
    if not frames:
        raise ValueError("no silver feed to link")
    return union_all(frames)
