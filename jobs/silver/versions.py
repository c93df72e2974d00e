"""Dedup, version order and currency of silver: pure DataFrame -> DataFrame transforms.

Everything here is a function of the *set* of records, never of the order in
which deliveries arrive, so processing deliveries late, twice or in reverse
order gives the same silver (standard §1-2):

* exact duplicates: copies with the same `_record_key` and `_content_hash`;
  the earliest copy by (batch date, file name, record no) is the record, the
  later copies are duplicates (also across deliveries, and in a full
  delivery a record identical to the version held);
* version order per key: version column, then batch date, then position in
  the delivery (file name, record no), latest first (`_version_rank` 1);
* currency: the latest version is current unless a full delivery newer than
  every copy of the key (duplicates included) no longer contained it
  (`_last_seen_batch_date` < the latest promoted full batch). A record of a
  full delivery that was quarantined but has a valid key is a copy too (it
  is in the snapshot, only unusable): `audit.record_copies` holds it with a
  null content hash, counted for currency only.

On MERGE these are recomputed for the keys a run touches only; the rows a
promotion writes carry its `_promotion_seq` (stamped by the job, not here).
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from jobs.silver.records import CONTENT_HASH, RECORD_KEY

VERSION_RANK = "_version_rank"
IS_CURRENT = "_is_current"
LAST_SEEN = "_last_seen_batch_date"
PROMOTION_SEQ = "_promotion_seq"  # grows with every promotion: what incremental consumers select by
DERIVED = (VERSION_RANK, IS_CURRENT, LAST_SEEN)
POSITION = ("_batch_date", "_file_name", "_record_no")
COPY_COLUMNS = ("feed_id", "record_key", "content_hash", "batch_date", "file_name", "record_no", "delivery_id")


def copy_records(accepted: DataFrame) -> DataFrame:
    """One `audit.record_copies` row per accepted copy: what dedup and currency are computed from."""
    return accepted.select(
        F.col("_feed_id").alias("feed_id"),
        F.col(RECORD_KEY).alias("record_key"),
        F.col(CONTENT_HASH).alias("content_hash"),
        F.col("_batch_date").alias("batch_date"),
        F.col("_file_name").alias("file_name"),
        F.col("_record_no").cast("int").alias("record_no"),
        F.col("_delivery_id").alias("delivery_id"),
    )


def canonical_copies(rows: DataFrame) -> DataFrame:
    """One row per (key, content): the earliest copy; later copies are the duplicates."""
    first = Window.partitionBy(RECORD_KEY, CONTENT_HASH).orderBy(*[F.col(c).asc() for c in POSITION])
    return rows.withColumn("__copy_no", F.row_number().over(first)).where("__copy_no = 1").drop("__copy_no")


def last_seen(copies: DataFrame) -> DataFrame:
    """(_record_key, _last_seen_batch_date): the latest batch holding any copy of the key."""
    return copies.groupBy(F.col("record_key").alias(RECORD_KEY)).agg(F.max("batch_date").alias(LAST_SEEN))


def rank_versions(versions: DataFrame, version_alias: str, seen: DataFrame,
                  latest_full_batch: str | None) -> DataFrame:
    """Add `_version_rank` (1 = latest), `_last_seen_batch_date` and `_is_current`."""
    latest_first = Window.partitionBy(RECORD_KEY).orderBy(
        F.col(version_alias).desc(), *[F.col(c).desc() for c in POSITION]
    )
    ranked = versions.drop(*DERIVED).withColumn(VERSION_RANK, F.row_number().over(latest_first))
    ranked = ranked.join(seen, RECORD_KEY, "left")
    still_held = F.lit(True) if latest_full_batch is None else F.col(LAST_SEEN) >= F.lit(latest_full_batch)
    return ranked.withColumn(IS_CURRENT, (F.col(VERSION_RANK) == 1) & F.coalesce(still_held, F.lit(False)))


def resolve_versions(existing: DataFrame, incoming: DataFrame, copies: DataFrame, version_alias: str,
                     latest_full_batch: str | None) -> DataFrame:
    """The complete new state of the touched keys: every distinct version, ranked, with currency.

    existing: silver rows of the touched keys; incoming: accepted copies of
    this run (duplicates included); copies: every copy of the touched keys
    (`audit.record_copies`, this run's included).
    """
    pool = existing.drop(*DERIVED, PROMOTION_SEQ).unionByName(incoming.drop(*DERIVED, PROMOTION_SEQ))
    return rank_versions(canonical_copies(pool), version_alias, last_seen(copies), latest_full_batch)
