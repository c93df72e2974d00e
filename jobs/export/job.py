"""Outbound deliveries in the exchange format: national reporting and department subscriptions.

Each subscription (a subscriber and one feed of schemas/exports/) gets, in its outbox folder
`<outbox>/<subscriber folder>/<feed_id>/<YYYYMMDD>/`, a JSONL file and a manifest written last,
as departments deliver to the center (docs/EXPORTS.md is the contract).

What a subscriber gets is what changed in the source gold table since the Delta version its last
delivery covered: Delta's change data feed between the two versions, netted per key (a row deleted
and re-inserted unchanged by a rebuild is no change). The first delivery, or one whose versions the
change feed cannot cover, is a full snapshot (mode `full`). `audit.export_log` records the versions
each delivery covers, after its manifest is written; a manifest found without its log row (a crash
in between) is recorded on the next export instead of being sent again. So nothing is sent twice
and nothing is missed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from regulake import lake, storage
from regulake.config import SCHEMAS_DIR, Settings, conf_file
from regulake.feeds import FeedSchema, load_all_feeds
from regulake.stage_state import delta_version

log = logging.getLogger(__name__)

EXPORT_SCHEMAS = SCHEMAS_DIR / "exports"
LOG_TABLE = "export_log"
MANIFEST = "manifest.json"
# What a subscriber writes into a delivery's folder once it has taken it (docs/EXPORTS.md).
ACK = "ack.json"
ACK_STATUSES = ("accepted", "rejected")
PART = "part-0001.jsonl"
# Change-feed rows that show a row as it was before a change.
PRE_IMAGES = ("delete", "update_preimage")


@dataclass(frozen=True)
class Subscription:
    subscriber: str  # "national" or "department:<code>"
    folder: str  # under the outbox root: national, departments/<code>
    feed: FeedSchema
    source: str  # the gold table
    where: str | None = None  # SQL condition on the source rows
    department: str | None = None  # a department subscription sees its remit only

    @property
    def columns(self) -> list[str]:
        return [c.alias for c in self.feed.columns if c.alias != "change"]


def load_config() -> dict[str, Any]:
    with open(conf_file("exports.yaml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def outbox_root(settings: Settings, config: dict[str, Any]) -> str:
    return str(config.get("outbox_root") or f"{settings.lake_root}/_outbox").rstrip("/")


def subscriptions(config: dict[str, Any], departments: list[str]) -> list[Subscription]:
    """Every subscription: the national ones, then each department's."""
    feeds = load_all_feeds(EXPORT_SCHEMAS)
    found = [Subscription("national", "national", feeds[feed], spec["source"], spec.get("where"))
             for feed, spec in config.get("national", {}).items()]
    for code in departments:
        found += [Subscription(f"department:{code}", f"departments/{code}", feeds[feed], spec["source"],
                               spec.get("where"), code)
                  for feed, spec in config.get("departments", {}).items()]
    return found


# --- pure transformations --------------------------------------------------------------------

def net_changes(changes: DataFrame, key: list[str], columns: list[str]) -> DataFrame:
    """One row per key that a run of the change data feed changed, with `change`: `upsert` when the key is
    new or its `columns` differ from what it held before the first change, `delete` when its last change
    removed it (the values it had). A key deleted and re-inserted unchanged yields nothing."""
    pre = F.col("_change_type").isin(*PRE_IMAGES)
    order = [F.col("_commit_version"), F.when(pre, 0).otherwise(1)]
    image = F.to_json(F.struct(*[F.col(c) for c in columns]))
    ranked = (changes.withColumn("_pre", pre).withColumn("_image", image)
              .withColumn("_first", F.row_number().over(Window.partitionBy(*key).orderBy(*order)))
              .withColumn("_last", F.row_number().over(Window.partitionBy(*key).orderBy(*[o.desc() for o in order]))))
    before = ranked.where((F.col("_first") == 1) & F.col("_pre")).select(*key, F.col("_image").alias("_before"))
    after = ranked.where(F.col("_last") == 1).select(*columns, "_pre", "_image")
    joined = after.join(before, key, "left")
    upserted = ~F.col("_pre") & (F.col("_before").isNull() | (F.col("_before") != F.col("_image")))
    deleted = F.col("_pre") & F.col("_before").isNotNull()
    return (joined.where(upserted | deleted)
            .select(F.when(deleted, F.lit("delete")).otherwise(F.lit("upsert")).alias("change"), *columns))


@dataclass(frozen=True)
class Delivered:
    """A delivery in a subscription's outbox folder: its batch, the versions it covers, its acknowledgement."""
    batch_date: str
    from_version: int | None  # None: a full snapshot
    to_version: int
    ack: str | None = None  # accepted, rejected, or None while the subscriber has not answered
    reason: str = ""


def resend_base(deliveries: list[Delivered], today: str, resend_after_days: int | None) -> tuple[int, str | None]:
    """(the Delta version the next delivery starts after, why it resends or None).

    Normally the version the last delivery covered. When the subscriber rejected a delivery, or left
    one unanswered for more than `resend_after_days` days (None: wait for ever), the next delivery
    starts after the last accepted one instead (-1: a full snapshot), so the subscriber misses nothing;
    a delivery that starts there settles the matter."""
    accepted, last, problem = -1, -1, None
    for delivery in sorted(deliveries, key=lambda d: d.batch_date):
        start = -1 if delivery.from_version is None else delivery.from_version - 1
        if problem is not None and start <= accepted:
            problem = None  # this delivery resent what the problem one covered
        if problem is not None:
            continue
        last = delivery.to_version
        if delivery.ack == "accepted":
            accepted = delivery.to_version
        elif delivery.ack == "rejected":
            problem = f"{delivery.batch_date} was rejected ({delivery.reason or 'no reason given'})"
        elif resend_after_days is not None and _days_between(delivery.batch_date, today) > resend_after_days:
            problem = f"{delivery.batch_date} has not been acknowledged in {resend_after_days} days"
    return (accepted, problem) if problem is not None else (last, None)


def _days_between(batch_date: str, today: str) -> int:
    return (datetime.strptime(today, "%Y%m%d") - datetime.strptime(batch_date, "%Y%m%d")).days


def department_remits(xref: DataFrame | None, inspections: DataFrame | None,
                      feed_departments: dict[str, str]) -> DataFrame | None:
    """(department, entity_id): the enterprises each department's own feeds are linked to, and those it
    inspected."""
    parts = []
    if xref is not None and feed_departments:
        mapping = F.create_map(*[F.lit(x) for pair in feed_departments.items() for x in pair])
        parts.append(xref.where(F.col("entity_id").isNotNull())
                     .select(F.element_at(mapping, F.col("feed_id")).alias("department"), "entity_id")
                     .where(F.col("department").isNotNull()))
    if inspections is not None:
        parts.append(inspections.where(F.col("entity_id").isNotNull() & F.col("department_code").isNotNull())
                     .select(F.col("department_code").alias("department"), "entity_id"))
    if not parts:
        return None
    remits = parts[0]
    for part in parts[1:]:
        remits = remits.unionByName(part)
    return remits.distinct()


# --- I/O -------------------------------------------------------------------------------------

def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    return value


def write_delivery(rows: DataFrame, sub: Subscription, folder: str, batch_date: str, mode: str,
                   versions: tuple[int | None, int], settings: Settings) -> int:
    """The JSONL file (ordered by key: a rewrite after a crash is the same bytes), then the manifest."""
    columns = ["change", *sub.columns]
    digest, count = hashlib.sha256(), 0
    with storage.open_output(f"{folder}/{PART}") as out:
        for row in rows.select(*columns).orderBy(*sub.feed.key, "change").toLocalIterator():
            line = (json.dumps(_json_value(row.asDict(recursive=True)), ensure_ascii=False) + "\n").encode("utf-8")
            digest.update(line)
            out.write(line)
            count += 1
    zone = ZoneInfo(str(settings.spark.get("conf", {}).get("spark.sql.session.timeZone", "UTC")))
    manifest = {
        "feed_id": sub.feed.feed_id, "batch_date": batch_date, "mode": mode,
        "files": [{"name": PART, "rows": count, "sha256": digest.hexdigest()}],
        "produced_at": datetime.now(zone).isoformat(timespec="seconds"),
        "source": {"table": f"gold.{sub.source}", "from_version": versions[0], "to_version": versions[1]},
    }
    storage.write_text(f"{folder}/{MANIFEST}", json.dumps(manifest, ensure_ascii=False, indent=1))
    return count


def _delivered(root: str, sub: Subscription) -> dict[str, dict]:
    """{batch_date: manifest} of the deliveries already in the subscription's outbox folder."""
    feed_folder = f"{root}/{sub.folder}/{sub.feed.feed_id}"
    found = {}
    for batch in storage.list_dirs(feed_folder):
        path = f"{feed_folder}/{batch}/{MANIFEST}"
        if storage.exists(path):
            found[batch] = json.loads(storage.read_text(path))
    return found


def _acknowledged(root: str, sub: Subscription, delivered: dict[str, dict]) -> list[Delivered]:
    """The subscription's deliveries with the acknowledgement each folder holds (a malformed one counts as
    none, with a warning naming the file)."""
    found = []
    for batch, manifest in delivered.items():
        source = manifest.get("source", {})
        ack, reason = None, ""
        path = f"{root}/{sub.folder}/{sub.feed.feed_id}/{batch}/{ACK}"
        if storage.exists(path):
            try:
                answer = json.loads(storage.read_text(path))
                ack, reason = str(answer["status"]), str(answer.get("reason") or "")
                if ack not in ACK_STATUSES:
                    raise ValueError(f"status {ack!r} is not one of {ACK_STATUSES}")
            except (ValueError, KeyError, TypeError) as bad:
                log.warning("%s: not an acknowledgement (%s): the delivery counts as unanswered", path, bad)
                ack, reason = None, ""
        found.append(Delivered(batch, source.get("from_version"), int(source.get("to_version", -1)), ack, reason))
    return found


def _log_rows(spark: SparkSession, entries: list[dict]) -> DataFrame:
    from pyspark.sql.types import StructType

    schema = StructType([f for f in lake.EXPORT_LOG_SCHEMA.fields if f.name != "exported_at"])
    return spark.createDataFrame([tuple(e[f.name] for f in schema.fields) for e in entries], schema) \
        .withColumn("exported_at", F.current_timestamp())


def _exported_versions(spark: SparkSession, settings: Settings) -> dict[tuple[str, str], int]:
    table = lake.read(spark, settings, "audit", LOG_TABLE)
    if table is None:
        return {}
    return {(r["subscriber"], r["feed_id"]): r["v"] for r in
            table.groupBy("subscriber", "feed_id").agg(F.max("to_version").alias("v")).collect()}


def _enable_change_feed(spark: SparkSession, path: str) -> None:
    properties = spark.sql(f"DESCRIBE DETAIL delta.`{path}`").first()["properties"] or {}
    if properties.get("delta.enableChangeDataFeed") != "true":
        log.info("enabling the change data feed of %s (the next export reads increments from it)", path)
        spark.sql(f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES (delta.enableChangeDataFeed = true)")


def run(spark: SparkSession, settings: Settings, run_id: str, batch_date: date) -> dict[str, Any]:
    """Export every subscription's changes since its last delivery into the outbox; a summary."""
    started = time.monotonic()
    config = load_config()
    root = outbox_root(settings, config)
    batch = batch_date.strftime("%Y%m%d")
    departments_table = lake.read(spark, settings, "gold", "dim_department")
    departments = sorted(r[0] for r in departments_table.select("department_code").distinct().collect()) \
        if departments_table is not None else []
    subs = subscriptions(config, departments)
    resend_after_days = (config.get("acknowledgements") or {}).get("resend_after_days")
    exported = _exported_versions(spark, settings)
    remits = None
    if any(s.department for s in subs):
        feed_departments = {f.feed_id: f.department for f in load_all_feeds().values()}
        remits = department_remits(lake.read(spark, settings, "gold", "entity_xref"),
                                   lake.read(spark, settings, "gold", "fct_inspection"), feed_departments)
        remits = remits.localCheckpoint() if remits is not None else None
    entries, outcomes = [], []
    snapshots_taken: set[str] = set()
    changed: dict[tuple, tuple[DataFrame, str]] = {}
    for sub in subs:
        key = (sub.subscriber, sub.feed.feed_id)
        last = exported.get(key, -1)
        # A manifest written by an export that crashed before logging it counts as delivered.
        delivered = _delivered(root, sub)
        for found_batch, manifest in sorted(delivered.items()):
            covered = int(manifest.get("source", {}).get("to_version", -1))
            if covered > last:
                log.warning("%s %s %s: delivered before a crash, not logged: recorded now, not sent again",
                            sub.subscriber, sub.feed.feed_id, found_batch)
                entries.append(_entry(sub, found_batch, manifest["mode"], manifest["source"].get("from_version"),
                                      covered, manifest["files"][0]["rows"], f"{root}/{sub.folder}/{sub.feed.feed_id}/"
                                      f"{found_batch}", run_id))
                last = covered
        base, why = resend_base(_acknowledged(root, sub, delivered), batch, resend_after_days)
        if why is not None and base < last:
            log.warning("%s %s: delivery %s: sending again what followed version %d", sub.subscriber,
                        sub.feed.feed_id, why, base)
            last = base
        path = settings.table_path("gold", sub.source)
        current = delta_version(None, path)
        if current is None or current <= last:
            outcomes.append((sub, "nothing new" if current is not None else f"no gold.{sub.source} yet", 0))
            continue
        folder = f"{root}/{sub.folder}/{sub.feed.feed_id}/{batch}"
        if storage.exists(f"{folder}/{MANIFEST}"):
            outcomes.append((sub, f"already delivered on {batch}: the rest goes with the next day's export", 0))
            continue
        cache_key = (sub.source, sub.where, tuple(sub.columns), sub.feed.key, last, current)
        if cache_key not in changed:  # subscribers at the same versions of a source share one computation
            changed[cache_key] = _changes(spark, sub, path, last, current)
        rows, mode = changed[cache_key]
        if mode == "full":
            snapshots_taken.add(sub.source)
        if sub.department:
            mine = remits.where(F.col("department") == sub.department).select("entity_id") if remits is not None \
                else None
            rows = rows.join(mine, "entity_id", "left_semi") if mine is not None else rows.limit(0)
        count = write_delivery(rows, sub, folder, batch, mode, (None if mode == "full" else last + 1, current),
                               settings) if not rows.isEmpty() else 0
        entries.append(_entry(sub, batch, mode, None if mode == "full" else last + 1, current, count,
                              folder if count else None, run_id))
        outcomes.append((sub, f"{mode}: {count} rows" if count else "no change in its remit", count))
    if entries:
        lake.audit_append(spark, settings, LOG_TABLE, _log_rows(spark, entries))
    for source in sorted(snapshots_taken):
        _enable_change_feed(spark, settings.table_path("gold", source))
    for sub, outcome, _ in outcomes:
        log.info("export %s %s: %s", sub.subscriber, sub.feed.feed_id, outcome)
    return {
        "run_id": run_id, "batch_date": batch, "outbox": root,
        "deliveries": sum(1 for _, _, count in outcomes if count),
        "rows": sum(count for _, _, count in outcomes),
        "subscriptions": len(subs),
        "seconds": round(time.monotonic() - started, 1),
    }


def _changes(spark: SparkSession, sub: Subscription, path: str, last: int, current: int) -> tuple[DataFrame, str]:
    """(rows with `change`, mode): the netted change feed after version `last` up to `current`, or a full
    snapshot at `current` for a first delivery or a gap the change feed cannot cover."""
    if last >= 0:
        try:
            changes = (spark.read.format("delta").option("readChangeFeed", "true")
                       .option("startingVersion", last + 1).option("endingVersion", current).load(path))
            if sub.where:
                changes = changes.where(sub.where)
            return net_changes(changes, list(sub.feed.key), sub.columns).localCheckpoint(), "incremental"
        except Exception as missing:  # noqa: BLE001 - any gap in the change feed: a full snapshot instead
            log.warning("%s %s: the change data feed does not cover versions %d-%d of gold.%s (%s): "
                        "sending a full snapshot", sub.subscriber, sub.feed.feed_id, last + 1, current,
                        sub.source, str(missing).splitlines()[0])
    snapshot = spark.read.format("delta").option("versionAsOf", current).load(path)
    if sub.where:
        snapshot = snapshot.where(sub.where)
    return snapshot.select(F.lit("upsert").alias("change"), *sub.columns).localCheckpoint(), "full"


def _entry(sub: Subscription, batch: str, mode: str, from_version: int | None, to_version: int, rows: int,
           location: str | None, run_id: str) -> dict:
    return {"subscriber": sub.subscriber, "feed_id": sub.feed.feed_id, "batch_date": batch, "mode": mode,
            "source_table": f"gold.{sub.source}", "from_version": from_version, "to_version": to_version,
            "rows": rows, "location": location, "run_id": run_id}
