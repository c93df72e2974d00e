"""Gate and promote a feed's pending deliveries from bronze to silver (the job's I/O edge).

Pending = logged `loaded` in `audit.delivery_log` and not yet promoted
(`audit.gate_result` outcome `promoted`), so a rerun finds nothing to do and
changes nothing. A delivery held back stays pending but is not evaluated again
until the rules it was judged by change (`FeedLedger.standing_holds`). Per run:

1. the bronze rows of every pending delivery -> one checked frame (cached),
   then one GX checkpoint per delivery on its slice; a failing delivery is
   held back (stays in bronze, outcome `held`);
2. for the passing ones, together: silver quarantine rows into
   `audit.quarantine`, every accepted copy into `audit.record_copies`, one
   MERGE into `silver.<feed>` recomputing dedup, version rank and currency
   for the touched keys (plus currency feed-wide after a newer full
   delivery), outlier flags refreshed, `silver.<feed>_current` saved;
   every row the promotion writes carries its `_promotion_seq` (the silver
   table's next Delta version: it grows with every promotion, so a delivery
   held back and released later is still "new" to incremental consumers,
   whatever its `_ingested_at`);
3. `audit.row_accounting` for the feed, then `audit.gate_result` rows for
   every delivery seen (last, so a crash before it means "not promoted");
4. GateFailed if anything was held back (after promoting the rest).

Every write is keyed or recomputed, so a task retried after a crash at any
point converges on the same tables.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import DataFrame, Row, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.silver.accounting import row_accounting
from jobs.silver.gate import DeliveryGate, GateFailed, GateVerdict, delivery_counts
from jobs.silver.outliers import OUTLIER_FLAGS, outlier_flags_sql, outlier_stats
from jobs.silver.quality import FeedQuality, feed_quality, gx_settings
from jobs.silver.records import (
    CONTENT_HASH,
    RECORD_KEY,
    accepted_records,
    check_records,
    quarantine_records,
    quarantined_copies,
)
from jobs.silver.versions import (
    IS_CURRENT,
    LAST_SEEN,
    PROMOTION_SEQ,
    VERSION_RANK,
    copy_records,
    resolve_versions,
)
from regulake import lake, stage_state
from regulake.catalog import save_view
from regulake.config import Settings
from regulake.delta_rows import read_rows
from regulake.feeds import FeedSchema, load_feed
from regulake.lake import GATE_RESULT_SCHEMA, ROW_ACCOUNTING_SCHEMA
from regulake.stage import StageContext

log = logging.getLogger(__name__)

PROMOTED, HELD = "promoted", "held"


@dataclass(frozen=True)
class PendingDelivery:
    batch_date: str
    delivery_id: str
    mode: str
    manifest_rows: int


class FeedLedger:
    """The feed's rows of `audit.delivery_log` (loaded deliveries) and `audit.gate_result`, read once per run.

    Both are small (a row per delivery, per verdict); every question the promotion asks of
    them (pending, held back, promoted, the full deliveries' volumes) is answered from these
    rows instead of another scan of the audit tables.
    """

    def __init__(self, loaded: list[Row], verdicts: list[Row]) -> None:
        self.loaded = sorted({(r.batch_date, r.delivery_id): r for r in loaded}.values(),
                             key=lambda r: (r.batch_date, r.delivery_id))
        self.verdicts = verdicts

    @classmethod
    def read(cls, settings: Settings, feed_id: str) -> FeedLedger:
        """Read with delta-rs (`regulake.delta_rows`): a feed with nothing pending starts no Spark session."""
        loaded = [Row(**r) for r in read_rows(settings, "audit", "delivery_log",
                                              ("feed_id", "batch_date", "delivery_id", "mode", "manifest_rows",
                                               "status"))
                  if r["feed_id"] == feed_id and r["status"] == "loaded"]
        verdicts = [Row(**r) for r in read_rows(settings, "audit", "gate_result", GATE_RESULT_SCHEMA.fieldNames())
                    if r["feed_id"] == feed_id]
        return cls(loaded, verdicts)

    def promoted(self) -> list[Row]:
        return [r for r in self.verdicts if r.outcome == PROMOTED]

    def pending(self) -> list[PendingDelivery]:
        """Deliveries loaded into bronze and not promoted yet, oldest batch first."""
        done = {r.delivery_id for r in self.promoted()}
        return [PendingDelivery(r.batch_date, r.delivery_id, r.mode or "incremental", int(r.manifest_rows or 0))
                for r in self.loaded if r.delivery_id not in done]

    def standing_holds(self, digest: str) -> dict[str, GateVerdict]:
        """delivery_id -> verdict of deliveries held back under the current rules.

        Evaluating them again would give the same verdict, so they are not re-run
        (and nothing is written): a rerun changes nothing, yet still fails naming
        them. Changing the rules (e.g. raising a threshold) re-evaluates them.
        """
        latest: dict[str, Row] = {}
        for r in self.verdicts:
            if r.delivery_id not in latest or r.evaluated_at > latest[r.delivery_id].evaluated_at:
                latest[r.delivery_id] = r
        return {r.delivery_id: GateVerdict(
            feed_id=r.feed_id, batch_date=r.batch_date, delivery_id=r.delivery_id, rows=int(r.rows),
            rows_quarantined=int(r.rows_quarantined), tolerance=float(r.tolerance), success=False,
            failing=list(r.failing_expectations or []), sample=list(r.sample_records or []),
            data_docs=r.data_docs_path) for r in latest.values() if r.outcome == HELD and r.config_digest == digest}

    def full_volumes(self) -> dict[str, int]:
        """{batch_date: records the gate saw} of the feed's promoted full deliveries."""
        volumes: dict[str, int] = {}
        for r in self.promoted():
            if r.mode == "full":
                volumes[r.batch_date] = max(int(r.rows), volumes.get(r.batch_date, 0))
        return volumes

    def accounted(self, spark: SparkSession, promoting: list[str]) -> DataFrame:
        """(feed_id, batch_date, delivery_id, manifest_rows) of the promoted deliveries and `promoting`."""
        ids = {r.delivery_id for r in self.promoted()} | set(promoting)
        return spark.createDataFrame(
            [(r.feed_id, r.batch_date, r.delivery_id, r.manifest_rows) for r in self.loaded if r.delivery_id in ids],
            "feed_id string, batch_date string, delivery_id string, manifest_rows long")


def pending_deliveries(settings: Settings, feed_id: str) -> list[PendingDelivery]:
    """Deliveries loaded into bronze and not promoted yet, oldest batch first."""
    return FeedLedger.read(settings, feed_id).pending()


def _merge_keyed(spark: SparkSession, settings: Settings, table: str, feed_id: str,
                 source: DataFrame, keys: list[str], delivery_ids: list[str]) -> None:
    """Insert rows whose key is not in `audit.<table>` yet (within the feed's partition).

    Every key holds the delivery id and `source` holds rows of `delivery_ids` only, so the
    target-only `t.delivery_id IN (...)` lets Delta skip the files of every other delivery:
    the cost follows the run's deliveries, not the feed's history.
    """
    ids = ", ".join(f"'{i}'" for i in sorted(set(delivery_ids)))
    condition = " AND ".join([f"t.feed_id = '{feed_id}'", f"t.delivery_id IN ({ids})"]
                             + [f"t.{k} = s.{k}" for k in keys])
    schema = lake.audit_table(table).schema
    aligned = source.select(*[F.col(f.name).cast(f.dataType) for f in schema.fields])
    lake.audit_merge(spark, settings, table, aligned, condition)


def _silver_columns(schema: FeedSchema, frame: DataFrame) -> list[str]:
    order = [c.alias for c in schema.columns] + ["_extra", "_feed_id", "_batch_date", "_file_name",
                                                 "_record_no", "_ingested_at", "_record_hash", "_delivery_id",
                                                 "_dq_flags", OUTLIER_FLAGS, RECORD_KEY, CONTENT_HASH,
                                                 VERSION_RANK, IS_CURRENT, LAST_SEEN, PROMOTION_SEQ]
    assert set(order) == set(frame.columns), set(order) ^ set(frame.columns)
    return order


PROMOTION_SEQ_SCHEMA = T.StructType([T.StructField(PROMOTION_SEQ, T.LongType())])


def next_promotion_seq(spark: SparkSession, settings: Settings, feed_id: str) -> int:
    """The `_promotion_seq` of this promotion: the silver table's next Delta version (0 for a new table).

    Promotions of a feed never overlap (one task per feed), so it is larger than
    the sequence of every row written before: an incremental consumer that took
    the rows up to its watermark takes exactly the rows promoted since.
    """
    version = stage_state.delta_version(spark, settings.table_path("silver", feed_id))
    return 0 if version is None else version + 1


def ensure_promotion_seq(spark: SparkSession, settings: Settings, feed_id: str) -> None:
    """A silver table written before `_promotion_seq` existed gains the column (null on old rows)."""
    if lake.exists(spark, settings, "silver", feed_id):
        lake.add_missing_columns(spark, settings, "silver", feed_id, PROMOTION_SEQ_SCHEMA)


def merge_silver(spark: SparkSession, settings: Settings, schema: FeedSchema, accepted: DataFrame,
                 latest_full_batch: str | None, full_advanced: bool, seq: int,
                 seen: DataFrame | None = None) -> None:
    """MERGE this run's accepted copies into `silver.<feed>`, recomputing the touched keys.

    `seen`: (`_record_key`) of keys a full delivery holds only as quarantined records;
    their currency is recomputed too. Every row written carries `_promotion_seq` = `seq`.
    """
    feed_id = schema.feed_id
    copies = lake.load(spark, settings, "audit", "record_copies").where(F.col("feed_id") == feed_id)
    touched = accepted.select(RECORD_KEY)
    if seen is not None:
        touched = touched.unionByName(seen.select(RECORD_KEY))
    touched = touched.distinct()
    touched_copies = copies.join(touched.withColumnRenamed(RECORD_KEY, "record_key"), "record_key", "left_semi")
    held = lake.read(spark, settings, "silver", feed_id)
    existing = held.join(touched, RECORD_KEY, "left_semi") if held is not None else accepted.limit(0)
    version_alias = schema.column(schema.version_column).alias
    updates = resolve_versions(existing, accepted, touched_copies, version_alias, latest_full_batch)
    updates = updates.withColumn(PROMOTION_SEQ, F.lit(seq).cast("long"))
    updates = updates.select(*_silver_columns(schema, updates)).localCheckpoint()
    # A missing table is created holding `updates` (what the MERGE inserts into an empty one).
    changed = " OR ".join(f"NOT (t.{c} <=> s.{c})" for c in (
        VERSION_RANK, IS_CURRENT, LAST_SEEN, "_batch_date", "_file_name", "_record_no"))
    lake.merge(spark, settings, "silver", feed_id, updates,
               f"t.{RECORD_KEY} = s.{RECORD_KEY} AND t.{CONTENT_HASH} = s.{CONTENT_HASH}",
               update=True, update_when=changed)
    if full_advanced and latest_full_batch is not None:
        # A newer full snapshot ends the currency of every key it no longer holds.
        lake.update(spark, settings, "silver", feed_id,
                    {IS_CURRENT: "false", PROMOTION_SEQ: f"CAST({seq} AS BIGINT)"},
                    condition=f"{IS_CURRENT} AND {LAST_SEEN} < '{latest_full_batch}'")


def refresh_outliers(spark: SparkSession, settings: Settings, quality: FeedQuality, feed_id: str,
                     seq: int) -> None:
    """Recompute `_outlier_flags` from the feed's statistics; rewrite only rows whose flags change."""
    if not quality.outliers.columns:
        return
    stats = outlier_stats(lake.load(spark, settings, "silver", feed_id), quality.outliers)
    flags = outlier_flags_sql(stats, quality.outliers)
    lake.update(spark, settings, "silver", feed_id, {OUTLIER_FLAGS: flags, PROMOTION_SEQ: f"CAST({seq} AS BIGINT)"},
                condition=f"NOT ({OUTLIER_FLAGS} <=> {flags})")


def gate_digest(feed_id: str) -> str:
    """What a verdict depends on besides the data: the feed's schema, the quality rules and their code."""
    from regulake.config import PROJECT_ROOT, SCHEMAS_DIR, conf_file
    from regulake.stage_state import files_digest

    return files_digest([SCHEMAS_DIR / f"{feed_id}.yaml", conf_file("quality.yaml"), Path(__file__).parent,
                         PROJECT_ROOT / "regulake" / "normalize.py"])


def held_deliveries(spark: SparkSession, settings: Settings) -> list[tuple[str, str]]:
    """(feed_id, batch_date) of every delivery whose latest gate verdict is `held`."""
    gate = lake.read(spark, settings, "audit", "gate_result")
    if gate is None:
        return []
    latest = Window.partitionBy("feed_id", "delivery_id").orderBy(F.desc("evaluated_at"))
    rows = (gate.withColumn("_n", F.row_number().over(latest)).where((F.col("_n") == 1) & (F.col("outcome") == HELD))
            .select("feed_id", "batch_date").orderBy("feed_id", "batch_date").collect())
    return [(r.feed_id, r.batch_date) for r in rows]


def write_gate_results(spark: SparkSession, settings: Settings, run_id: str,
                       verdicts: list[tuple[PendingDelivery, GateVerdict]], digest: str) -> None:
    rows = [(v.feed_id, d.batch_date, d.delivery_id, d.mode, run_id, PROMOTED if v.success else HELD, v.rows,
             v.rows_quarantined, v.quarantine_share, v.tolerance, v.failing, v.sample, v.data_docs, digest)
            for d, v in verdicts]
    frame = spark.createDataFrame(rows, T.StructType(GATE_RESULT_SCHEMA.fields[:-1])).withColumn(
        "evaluated_at", F.current_timestamp())
    lake.audit_append(spark, settings, "gate_result", frame)


def write_row_accounting(spark: SparkSession, settings: Settings, feed_id: str, ledger: FeedLedger,
                         promoting: list[str]) -> DataFrame:
    """Recompute `audit.row_accounting` for every promoted delivery of the feed (and `promoting`)."""
    quarantine = lake.load(spark, settings, "audit", "quarantine").where(F.col("feed_id") == feed_id)
    copies = lake.load(spark, settings, "audit", "record_copies").where(F.col("feed_id") == feed_id)
    silver = lake.read(spark, settings, "silver", feed_id)
    if silver is None:  # every record so far was quarantined
        silver = spark.createDataFrame([], "_delivery_id string")
    accounting = row_accounting(ledger.accounted(spark, promoting), quarantine, copies, silver)
    aligned = accounting.select(*[F.col(f.name).cast(f.dataType) for f in ROW_ACCOUNTING_SCHEMA.fields])
    aligned = aligned.localCheckpoint()  # written, then inspected by the caller: compute once
    lake.overwrite(spark, settings, "audit", "row_accounting", aligned, replace_where=f"feed_id = '{feed_id}'")
    return aligned


def _previous_full(fulls: dict[str, int], batch_date: str) -> tuple[str, int] | None:
    earlier = [b for b in fulls if b < batch_date]
    return (max(earlier), fulls[max(earlier)]) if earlier else None


def run(ctx: StageContext) -> dict:
    """Gate and promote every pending delivery of `ctx.feed_id`; GateFailed names what was held back."""
    settings, feed_id, run_id = ctx.settings, ctx.require_feed(), ctx.run_id
    schema = load_feed(feed_id)
    quality = feed_quality(schema)
    digest = gate_digest(feed_id)
    ledger = FeedLedger.read(settings, feed_id)
    holds = ledger.standing_holds(digest)
    pending = [d for d in ledger.pending() if d.delivery_id not in holds]
    summary: dict = {"feed_id": feed_id, "run_id": run_id, "promoted": [], "held": []}
    if not pending:  # decided from the audit log alone: no Spark session started
        log.info("%s: no pending deliveries", feed_id)
        if holds:
            raise GateFailed("\n".join(f"(verdict of an earlier run; the rules have not changed since)\n{v.message()}"
                                        for v in sorted(holds.values(), key=lambda v: v.batch_date)))
        return summary
    spark = ctx.spark
    ensure_promotion_seq(spark, settings, feed_id)
    # All pending deliveries are checked in one pass (one plan, one cached frame); each still
    # gets its own GX checkpoint and verdict, on its slice of the cached frame.
    bronze = lake.load(spark, settings, "bronze", feed_id)
    rows = bronze.where(F.col("_batch_date").isin(sorted({d.batch_date for d in pending}))  # partition pruning
                        & F.col("_delivery_id").isin([d.delivery_id for d in pending]))
    checked = check_records(rows, schema, quality).persist()
    try:
        counts = delivery_counts(checked)
        gate = DeliveryGate(settings, schema, quality, gx_settings(), run_id)
        verdicts: list[tuple[PendingDelivery, GateVerdict]] = []
        fulls = ledger.full_volumes()
        previous_full = max(fulls, default=None)
        for delivery in pending:
            records, quarantined = counts.get(delivery.delivery_id, (0, 0))
            # A full delivery is compared with the full delivery before it (a header-only or truncated
            # snapshot would end the currency of every record it lacks).
            previous = _previous_full(fulls, delivery.batch_date) if delivery.mode == "full" else None
            verdict = gate.validate(checked.where(F.col("_delivery_id") == delivery.delivery_id),
                                    delivery.batch_date, delivery.delivery_id, records, quarantined, previous)
            verdicts.append((delivery, verdict))
            if verdict.success and delivery.mode == "full":
                fulls[delivery.batch_date] = max(verdict.rows, fulls.get(delivery.batch_date, 0))
        gate.build_docs()
        passed = [d for d, v in verdicts if v.success]
        accounting = None
        if passed:
            passed_ids = [d.delivery_id for d in passed]
            _promote(spark, settings, schema, quality, passed,
                     checked.where(F.col("_delivery_id").isin(passed_ids)), previous_full)
            accounting = write_row_accounting(spark, settings, feed_id, ledger, passed_ids)
        # Last: a delivery counts as promoted only once everything above is written.
        write_gate_results(spark, settings, run_id, verdicts, digest)
    finally:
        checked.unpersist()
    summary["promoted"] = [d.batch_date for d, v in verdicts if v.success]
    summary["held"] = [d.batch_date for d, v in verdicts if not v.success]
    summary["data_docs"] = sorted({v.data_docs for _, v in verdicts if v.data_docs})
    if accounting is not None:
        broken = accounting.where(~F.col("reconciled")).select("batch_date").collect()
        summary["unreconciled"] = [r.batch_date for r in broken]
        if broken:
            log.error("%s: row accounting does not reconcile with the manifest for %s", feed_id,
                      summary["unreconciled"])
    held = [v for _, v in verdicts if not v.success] + list(holds.values())
    if held:
        raise GateFailed("\n".join(v.message() for v in held))
    return summary


def _promote(spark: SparkSession, settings: Settings, schema: FeedSchema, quality: FeedQuality,
             deliveries: list[PendingDelivery], checked: DataFrame, previous_full: str | None) -> None:
    """Write the checked rows of the passing `deliveries`; `previous_full`: the latest full batch promoted before."""
    feed_id = schema.feed_id
    ids = [d.delivery_id for d in deliveries]
    _merge_keyed(spark, settings, "quarantine", feed_id, quarantine_records(checked),
                 ["stage", "delivery_id", "file_name", "record_no"], ids)
    accepted = accepted_records(checked, schema).localCheckpoint()
    full_ids = [d.delivery_id for d in deliveries if d.mode == "full"]
    copies = copy_records(accepted)
    seen = None
    if full_ids:  # quarantined records of a full snapshot still hold their key there
        held = quarantined_copies(checked, schema, quality).where(F.col("delivery_id").isin(full_ids))
        held = held.localCheckpoint()
        copies = copies.unionByName(held)
        seen = held.select(F.col("record_key").alias(RECORD_KEY))
    _merge_keyed(spark, settings, "record_copies", feed_id, copies, ["delivery_id", "file_name", "record_no"], ids)
    run_full = max((d.batch_date for d in deliveries if d.mode == "full"), default=None)
    latest_full = max(filter(None, (previous_full, run_full)), default=None)
    full_advanced = run_full is not None and run_full == latest_full and run_full != previous_full
    seq = next_promotion_seq(spark, settings, feed_id)
    merge_silver(spark, settings, schema, accepted, latest_full, full_advanced, seq, seen)
    refresh_outliers(spark, settings, quality, feed_id, seq)
    save_view(spark, settings, "silver", f"{feed_id}_current",
              f"SELECT * FROM silver.{feed_id} WHERE {IS_CURRENT}")
