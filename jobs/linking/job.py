"""The linking job: silver -> gold.entity_xref and gold.enterprise_person.

I/O happens here and only here; every transformation is a DataFrame function of the
other modules. One run:

1. reads the current records of every configured silver feed and the latest
   registration of every enterprise (silver.samr_enterprise);
2. chooses what to link (incremental): mentions that are new or whose linking inputs
   changed (`_input_hash`), plus the unlinked (`none`) rows that an enterprise
   registered or changed since the last run could now match — they share an
   identifier lookup or a blocking key value with it (`_retry_keys`, stored on every
   unlinked row so this is a join, not a re-parse of the backlog). Links already
   made are never redone;
3. links them: identifiers first, then names (Splink), the rest `none`;
4. MERGEs the results into gold.entity_xref on (feed_id, record_key), deleting rows
   whose record is no longer current (a sentiment item re-delivered with fewer names);
5. rebuilds gold.enterprise_person when enterprises changed and appends the run's
   figures to audit.linking_run, whose enterprise watermarks (max silver
   `_promotion_seq`, and max `_ingested_at` for rows written before silver stamped a
   sequence) tell the next run which enterprises are new. The promotion sequence grows
   with every silver promotion: a registration held by the quality gate and released
   after later ones is still new, although it was ingested earlier.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from jobs.linking import context, deterministic, features, persons, scoring
from jobs.linking.config import LinkingConfig, load_linking_config
from jobs.linking.mentions import all_mentions
from regulake import lake, stage_state
from regulake.config import PROJECT_ROOT, Settings, conf_file
from regulake.stage import StageContext

log = logging.getLogger(__name__)

XREF_TABLE = "entity_xref"
PERSON_TABLE = "enterprise_person"
RUN_TABLE = "linking_run"
ENTERPRISE_FEED = "samr_enterprise"
ENTERPRISE_COLUMNS = ("uscc", "ent_name", "ent_type", "region_code", "industry_code", "address", "reg_no", "org_code",
                      "legal_rep_name", "legal_rep_id_no", "status", "_ingested_at", "_promotion_seq")
_COLUMN_TYPES = {"_ingested_at": "timestamp", "_promotion_seq": "bigint"}
XREF_COLUMNS = ("feed_id", "record_key", "entity_id", "match_method", "match_score", "match_rule", "_input_hash",
                "_retry_keys")


# --- pure steps ----------------------------------------------------------------------


def latest_enterprises(silver_enterprise: DataFrame) -> DataFrame:
    """The latest registration of every enterprise ever delivered (ENTERPRISE_COLUMNS).

    Not only `_is_current`: a record that cites an enterprise dropped from a later full
    snapshot still refers to a registered enterprise.
    """
    df = silver_enterprise
    for column in ENTERPRISE_COLUMNS:
        if column not in df.columns:
            df = df.withColumn(column, F.lit(None).cast(_COLUMN_TYPES.get(column, "string")))
    order = [F.desc_nulls_last(c) for c in ("updated_at", "_batch_date", "_record_no") if c in df.columns]
    latest = Window.partitionBy("uscc").orderBy(*order) if order else Window.partitionBy("uscc").orderBy("uscc")
    return (
        df.where(F.col("uscc").isNotNull())
        .withColumn("_latest", F.row_number().over(latest))
        .where("_latest = 1")
        .select(*ENTERPRISE_COLUMNS)
    )


def new_enterprises(enterprises: DataFrame, last_seq: int | None, last_ingested: datetime | None) -> DataFrame:
    """Enterprises written to silver since the last run: `_promotion_seq` above the last run's.

    Selecting by `_ingested_at` would miss a registration held back by the quality gate
    and promoted after later deliveries (ingested earlier, promoted later). Rows without a
    sequence (silver written before it existed) fall back to `_ingested_at`. Without
    watermarks (the first run) every enterprise is new.
    """
    if last_seq is None and last_ingested is None:
        return enterprises
    seq, ingested = F.col("_promotion_seq"), F.col("_ingested_at")
    by_seq = F.lit(True) if last_seq is None else seq > F.lit(last_seq)
    by_time = F.lit(True) if last_ingested is None else ingested > F.lit(last_ingested)
    return enterprises.where(F.when(seq.isNotNull(), by_seq).otherwise(F.coalesce(by_time, F.lit(False))))


def select_work(mentions: DataFrame, previous: DataFrame | None, retry: DataFrame | None) -> DataFrame:
    """Mentions to link this run: new or changed (by `_input_hash`), plus `retry` (feed_id, record_key)."""
    if previous is None:
        return mentions
    known = previous.select("feed_id", "record_key", F.col("_input_hash").alias("input_hash"))
    fresh = mentions.join(known, ["feed_id", "record_key", "input_hash"], "left_anti")
    if retry is None:
        return fresh
    again = mentions.join(retry, ["feed_id", "record_key"], "left_semi")
    return fresh.unionByName(again).dropDuplicates(["mention_id"])


def _tagged(frame: DataFrame, id_column: str, keys: tuple[str, ...]) -> DataFrame:
    """(id, retry key `bk_x=value`) for every non-null blocking key of a feature frame."""
    pairs = F.array(*[F.concat(F.lit(f"{k}="), F.col(k)) for k in keys])
    return frame.select(F.col(id_column).alias("id"), F.explode(pairs).alias("retry_key")).where(
        F.col("retry_key").isNotNull()
    )


def enterprise_retry_keys(new_enterprises: DataFrame, config: LinkingConfig) -> DataFrame:
    """Every identifier lookup and blocking key value of new enterprises (one column, retry_key)."""
    by_id = deterministic.identifier_index(new_enterprises).select(
        F.concat("kind", F.lit("="), "key").alias("retry_key"))
    frame = features.with_blocking_keys(features.enterprise_features(new_enterprises), config.blocking_keys)
    return by_id.unionByName(_tagged(frame, "unique_id", config.blocking_keys).select("retry_key")).distinct()


def to_retry(previous: DataFrame, enterprise_keys: DataFrame) -> DataFrame:
    """(feed_id, record_key) of unlinked rows sharing a retry key with new enterprises."""
    unlinked = previous.where("match_method = 'none' AND _retry_keys IS NOT NULL").select(
        "feed_id", "record_key", F.explode("_retry_keys").alias("retry_key"))
    return unlinked.join(enterprise_keys, "retry_key", "left_semi").select("feed_id", "record_key").distinct()


def link_mentions(db_api: Any, work: DataFrame, enterprises: DataFrame, config: LinkingConfig,
                  stats: dict | None = None) -> DataFrame:
    """Link mentions: XREF_COLUMNS (`_retry_keys` set on unlinked rows only).

    Identifiers first, names for what identifiers leave (Splink, then the context rules
    of `context.py`: look-alikes dropped, trade names and owners' shops decided by place
    and industry), `none` for the rest. `match_rule` says which rule decided a link.
    Reads Splink's cached tables: consume it inside `scoring.splink_session`. When `stats`
    is a dict it receives counts (name mentions, candidate pairs) and seconds per stage.
    """
    clock = _Clock(stats)
    # Materialised at each Arrow UDF boundary: later steps read these frames several
    # times, and re-running the Python parsers for every read costs more than storing them.
    classified = deterministic.classify_identifiers(work).localCheckpoint()
    index = deterministic.identifier_index(enterprises)
    id_links = deterministic.link_by_identifier(classified, index, enterprises, config).withColumn(
        "match_rule", F.lit("identifier")).localCheckpoint()
    clock.lap("identifiers_s")
    outcome = deterministic.identifier_outcome(classified, id_links, config)
    mention_frame = features.with_blocking_keys(
        features.mention_features(outcome.where("to_names")), config.blocking_keys
    ).localCheckpoint()
    link_columns = ["mention_id", "entity_id", "match_method", "match_score", "match_rule"]
    if mention_frame.isEmpty():
        pairs = work.sparkSession.createDataFrame([], scoring.PAIR_SCHEMA)
        name_links = work.sparkSession.createDataFrame(
            [], "mention_id string, entity_id string, match_method string, match_score double, match_rule string")
        clock.lap("name_features_s")
    else:
        enterprise_frame = features.with_blocking_keys(features.enterprise_features(enterprises),
                                                       config.blocking_keys).localCheckpoint()
        pairs = scoring.score_candidates(
            db_api, mention_frame, features.cap_blocks(enterprise_frame, config.blocking_keys, config.max_block),
            config)
        clock.lap("name_features_s")
        clues = context.mention_clues(
            mention_frame.withColumnRenamed("unique_id", "mention_id").join(
                outcome.select("mention_id", "region_code", "context"), "mention_id"),
            config.context,
        ).localCheckpoint()
        splink_links = context.reject_lookalikes(scoring.decide(pairs, config), clues, enterprises)
        splink_links = splink_links.withColumn("match_rule", F.lit("splink")).localCheckpoint()
        registered = enterprise_frame.select(F.col("unique_id").alias("uscc"), "core").join(
            enterprises.select("uscc", "ent_type", "legal_rep_name", "industry_code", "region_code"), "uscc")
        by_context = context.decide_by_context(
            clues.join(splink_links.select("mention_id"), "mention_id", "left_anti"), registered, config.context)
        name_links = splink_links.select(*link_columns).unionByName(by_context.select(*link_columns)).localCheckpoint()
    clock.lap("name_scoring_s")
    if stats is not None:
        stats.update(name_mentions=mention_frame.count(), candidate_pairs=pairs.count(),
                     name_links=name_links.count(), id_links=id_links.count())
    retry_keys = (
        deterministic.lookup_keys(classified, config)
        .select(F.col("mention_id").alias("id"), F.concat("kind", F.lit("="), "key").alias("retry_key"))
        .unionByName(_tagged(mention_frame, "unique_id", config.blocking_keys))
        .groupBy(F.col("id").alias("mention_id")).agg(F.array_sort(F.collect_set("retry_key")).alias("_keys"))
    )
    links = id_links.select(*link_columns).unionByName(name_links.select(*link_columns))
    return (
        work.select("mention_id", "feed_id", "record_key", F.col("input_hash").alias("_input_hash"))
        .join(links, "mention_id", "left")
        .join(retry_keys, "mention_id", "left")
        .select(
            "feed_id", "record_key", "entity_id",
            F.coalesce("match_method", F.lit("none")).alias("match_method"),
            F.col("match_score").cast("double").alias("match_score"),
            "match_rule",
            "_input_hash",
            F.when(F.col("match_method").isNull(), F.col("_keys")).alias("_retry_keys"),
        )
    )


class _Clock:
    """Seconds between laps, into a stats dict (or nowhere)."""

    def __init__(self, stats: dict | None) -> None:
        self.stats, self.last = stats, time.monotonic()

    def lap(self, name: str) -> None:
        now = time.monotonic()
        if self.stats is not None:
            self.stats[name] = round(now - self.last, 1)
        self.last = now


def _compact(spark: SparkSession, df: DataFrame) -> DataFrame:
    """At most spark.sql.shuffle.partitions partitions: the union of 13 feeds is many small
    ones, and each partition pays the Python worker round trip of the Arrow UDFs."""
    target = int(spark.conf.get("spark.sql.shuffle.partitions", "8"))
    return df.coalesce(target)  # never adds partitions: fewer than `target` stay as they are


def link_frames(spark: SparkSession, silver: dict[str, DataFrame], config: LinkingConfig,
                stats: dict | None = None) -> DataFrame:
    """Link every mention of `silver` (feed_id -> current records) from scratch; no I/O.

    What a first run computes; model training and checks on stand-in data call it.
    The result is materialised (local checkpoint), so it outlives the Splink session.
    """
    enterprises = latest_enterprises(silver[ENTERPRISE_FEED]).localCheckpoint()
    mentions = _compact(spark, all_mentions(silver, config)).localCheckpoint()
    with scoring.splink_session(spark) as db_api:
        return link_mentions(db_api, mentions, enterprises, config, stats).localCheckpoint()


# --- I/O edges -----------------------------------------------------------------------


def read_silver_current(spark: SparkSession, settings: Settings, config: LinkingConfig) -> dict[str, DataFrame]:
    """feed_id -> current records, for every configured feed whose silver table exists."""
    frames = {}
    for feed_id in config.feeds:
        df = lake.read(spark, settings, "silver", feed_id)
        if df is not None:
            frames[feed_id] = df.where(F.col("_is_current")) if "_is_current" in df.columns else df
        else:
            log.warning("silver.%s does not exist yet: not linked this run", feed_id)
    return frames


def _last_watermarks(spark: SparkSession, settings: Settings) -> tuple[int | None, datetime | None]:
    """(max enterprise promotion sequence, max enterprise `_ingested_at`) of earlier runs."""
    runs = lake.read(spark, settings, "audit", RUN_TABLE)
    if runs is None:
        return None, None
    seq = F.max("enterprise_promotion_seq") if "enterprise_promotion_seq" in runs.columns else F.lit(None)
    row = runs.agg(seq.alias("s"), F.max("enterprise_watermark").alias("w")).first()
    return (None if row["s"] is None else int(row["s"])), row["w"]


def _write_xref(spark: SparkSession, settings: Settings, mentions: DataFrame, results: DataFrame,
                feeds: list[str], run_id: str) -> None:
    """One MERGE: upsert this run's results, delete rows of records no longer current."""
    stamped = results.withColumn("_run_id", F.lit(run_id)).withColumn("_linked_at", F.current_timestamp())
    if not lake.exists(spark, settings, "gold", XREF_TABLE):
        lake.append(spark, settings, "gold", XREF_TABLE, stamped, partition_by=("feed_id",))
        return
    # A lake written by an earlier version of this job may lack columns (schema auto-merge is off).
    lake.add_missing_columns(spark, settings, "gold", XREF_TABLE, stamped.schema)
    # Every current key is in the source, so a target row the source lacks is stale.
    source = mentions.select("feed_id", "record_key").join(
        stamped.withColumn("_relinked", F.lit(True)), ["feed_id", "record_key"], "left")
    columns = {c: f"s.{c}" for c in (*XREF_COLUMNS, "_run_id", "_linked_at")}
    feed_list = ", ".join(f"'{f}'" for f in feeds)
    lake.merge(spark, settings, "gold", XREF_TABLE, source, "t.feed_id = s.feed_id AND t.record_key = s.record_key",
               update=True, update_when="s._relinked", insert_when="s._relinked", columns=columns,
               delete_unmatched_when=f"t.feed_id IN ({feed_list})")


def run(ctx: StageContext) -> dict:
    """Link the current silver records to enterprises; write gold.entity_xref and gold.enterprise_person.

    Incremental (see the module docstring); rerunning on unchanged silver links nothing.
    Returns the run's figures (also appended to audit.linking_run): enterprises, new
    enterprises, mentions, linked this run (of which retried unlinked rows), links by
    method, name mentions, candidate pairs and seconds per stage.
    """
    spark, settings, run_id = ctx.spark, ctx.settings, ctx.run_id
    started = time.monotonic()
    config = load_linking_config()
    inputs = stage_state.fingerprint(
        tables=stage_state.table_versions(spark, settings, [("silver", feed) for feed in config.feeds]),
        code=stage_state.files_digest([conf_file("linking.yaml"), config.model_path, Path(__file__).parent,
                                       PROJECT_ROOT / "regulake" / "names.py"]),
    )
    if stage_state.unchanged(spark, settings, "link_entities", inputs):
        return {"run_id": run_id, "skipped": "inputs unchanged"}
    silver = read_silver_current(spark, settings, config)
    if ENTERPRISE_FEED not in silver:
        log.warning("silver.%s missing: nothing to link against", ENTERPRISE_FEED)
        return {"run_id": run_id, "skipped": "no silver.samr_enterprise"}
    enterprises = latest_enterprises(lake.load(spark, settings, "silver", ENTERPRISE_FEED)).localCheckpoint()
    mentions = _compact(spark, all_mentions(silver, config)).localCheckpoint()

    previous = lake.read(spark, settings, "gold", XREF_TABLE)
    fresh = new_enterprises(enterprises, *_last_watermarks(spark, settings))
    n_new_enterprises = fresh.count()
    retry = None
    if previous is not None and n_new_enterprises:
        retry = to_retry(previous, enterprise_retry_keys(fresh, config)).localCheckpoint()
    work = select_work(mentions, previous, retry).localCheckpoint()

    stats: dict = {"linked_this_run": work.count(), "retried_unlinked": retry.count() if retry is not None else 0}
    with scoring.splink_session(spark) as db_api:
        results = link_mentions(db_api, work, enterprises, config, stats).localCheckpoint()
    by_method = {r["match_method"]: int(r["n"])
                 for r in results.groupBy("match_method").agg(F.count("*").alias("n")).collect()}
    _write_xref(spark, settings, mentions, results, sorted(silver), run_id)
    if n_new_enterprises or not lake.exists(spark, settings, "gold", PERSON_TABLE):
        lake.overwrite(spark, settings, "gold", PERSON_TABLE, persons.enterprise_person(enterprises),
                       options={"overwriteSchema": "true"})

    figures = {
        "run_id": run_id,
        "feeds": sorted(silver),
        "enterprises": enterprises.count(),
        "new_enterprises": n_new_enterprises,
        "mentions": mentions.count(),
        "by_method": by_method,
        **stats,
        "seconds": round(time.monotonic() - started, 1),
    }
    marks = enterprises.agg(F.max("_ingested_at").alias("w"), F.max("_promotion_seq").alias("s")).first()
    lake.audit_append(spark, settings, RUN_TABLE, _run_row(spark, figures, marks["w"], marks["s"]))
    stage_state.record(spark, settings, "link_entities", run_id, inputs)
    log.info("linking %s: %s", run_id, figures)
    return figures


_RUN_COUNTS = ("enterprises", "new_enterprises", "mentions", "linked_this_run", "retried_unlinked",
               "name_mentions", "candidate_pairs", "id_links", "name_links")


def _run_row(spark: SparkSession, figures: dict, watermark: datetime | None, seq: int | None) -> DataFrame:
    counts = ", ".join(f"{name} long" for name in _RUN_COUNTS)
    row = (figures["run_id"], watermark, *[int(figures.get(name, 0)) for name in _RUN_COUNTS],
           figures["by_method"], float(figures["seconds"]), seq)
    return spark.createDataFrame(
        [row], f"run_id string, enterprise_watermark timestamp, {counts}, by_method map<string,long>, seconds double, "
               "enterprise_promotion_seq long"
    ).withColumn("finished_at", F.current_timestamp())
