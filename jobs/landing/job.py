"""Landing: judge every delivery of a feed (standard §1) and land the good ones into bronze.

One generic engine driven by `schemas/<feed_id>.yaml`; only the readers know
file formats. Per feed and run:

1. list the feed's delivery folders and classify each cheaply (listing and
   manifest only): already processed (silent skip), `incomplete`, `rejected`
   for its manifest, `duplicate`, or a candidate;
2. every candidate is read once: SHA-256, header and record count are
   checked while its records are staged as Parquet; a failed check rejects
   the delivery and drops its staging;
3. candidates that bronze already holds (a run killed after the bronze commit
   but before the log) are not appended again, only quarantined and logged;
4. ONE bronze append with all loaded deliveries, their parse-time quarantine
   (idempotent), then the delivery_log append.

Reruns change nothing: a processed folder is recognised by its delivery id
(content digest) and location; an incomplete or rejected folder by the digest
of its listing, so it is logged again only if it changed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow.fs as pafs
from pyspark.sql import SparkSession

from jobs.landing import audit, bronze, links
from jobs.landing.config import LandingLimits, landing_limits
from jobs.landing.manifest import (
    MANIFEST_NAME,
    Manifest,
    ManifestError,
    batch_day,
    parse_manifest,
    state_delivery_id,
)
from jobs.landing.readers import READERS, FileResult, FileUnreadable
from regulake import lake, lineage, storage
from regulake.config import Settings
from regulake.delta_rows import read_rows
from regulake.feeds import FeedSchema, feed_ids, load_feed
from regulake.stage import StageContext

log = logging.getLogger("regulake.landing")

LOADED, REJECTED, INCOMPLETE, DUPLICATE = "loaded", "rejected", "incomplete", "duplicate"


@dataclass
class Delivery:
    """One delivery folder and what landing decided about it."""

    feed_id: str
    folder: str  # the folder's name (normally the batch date)
    location: str  # the folder's URI
    listing: list[storage.FileEntry]
    manifest: Manifest | None = None
    status: str | None = None  # None: a candidate, not decided yet
    reason: str | None = None
    delivery_id: str | None = None
    rows_landed: int | None = None
    rows_quarantined: int | None = None
    logged: bool = True  # False: already processed in an earlier run, nothing to log
    recovered: bool = False  # its records were in bronze already (a run killed before logging it)
    staging: bronze.DeliveryStaging | None = field(default=None, repr=False)

    @property
    def batch_date(self) -> str:
        return self.manifest.batch_date if self.manifest else self.folder

    @property
    def fingerprint(self) -> list[str]:
        return [f"{e.name}:{e.size}:{e.mtime_ns}" for e in self.listing]

    def decide(self, status: str, reason: str | None, delivery_id: str) -> Delivery:
        self.status, self.reason, self.delivery_id = status, reason, delivery_id
        return self

    def log_entry(self, run_id: str) -> dict[str, Any]:
        return {
            "feed_id": self.feed_id,
            "batch_date": self.batch_date,
            "status": self.status,
            "reason": self.reason,
            "manifest_rows": self.manifest.rows if self.manifest else None,
            "delivery_id": self.delivery_id,
            "run_id": run_id,
            "location": self.location,
            "mode": self.manifest.mode if self.manifest else None,
            "files": len(self.manifest.files) if self.manifest else None,
            "rows_landed": self.rows_landed,
            "rows_quarantined": self.rows_quarantined,
        }

    def summary(self) -> dict[str, Any]:
        entry = self.log_entry("")
        return {k: entry[k] for k in ("batch_date", "status", "reason", "manifest_rows", "rows_landed",
                                      "rows_quarantined", "location", "delivery_id")} | {"recovered": self.recovered}


def normalize_root(landing_root: str) -> str:
    """Local roots become absolute paths (the delivery location is part of its identity)."""
    if storage.is_local(landing_root) and "://" not in str(landing_root):
        return str(Path(landing_root).expanduser().resolve())
    return str(landing_root).rstrip("/")


class LandingRootMissing(FileNotFoundError):
    """The landing root a run was given does not exist."""


def discover(landing_root: str) -> list[str]:
    """Feed ids that have a folder under the landing root (and a schema); others are logged and ignored."""
    root = normalize_root(landing_root)
    if not storage.exists(root):
        raise LandingRootMissing(f"the landing root {root} does not exist: nothing to discover (the DAG's "
                                 "`landing` param, pipeline.landing_root in conf/regulake.yaml, or --landing)")
    known = set(feed_ids())
    folders = storage.list_dirs(root)
    for unknown in sorted(set(folders) - known):
        log.warning("landing folder %s/%s is not a known feed (no schemas/%s.yaml): ignored",
                    root, unknown, unknown)
    return [f for f in folders if f in known]


def latest_batch_date(landing_root: str, settings: Settings | None = None) -> date | None:
    """The latest batch date of any known feed's delivery folder under the landing root; with no
    folder there (an archived landing), the latest batch the lake loaded (`audit.delivery_log`,
    read with delta-rs: every task of a run asks, and none needs Spark for it)."""
    root = normalize_root(landing_root)
    known = set(feed_ids())
    dates = []
    for feed_id in (f for f in storage.list_dirs(root) if f in known and not links.feed_is_symlink(root, f)):
        for name in storage.list_dirs(storage.join(root, feed_id)):
            try:
                dates.append(datetime.strptime(name, "%Y%m%d").date())
            except ValueError:
                continue  # not a batch folder; landing reports it
    if dates:
        return max(dates)
    if settings is None:
        return None
    loaded = [r["batch_date"] for r in read_rows(settings, "audit", "delivery_log", ("batch_date", "status"))
              if r["status"] == LOADED and r["batch_date"]]
    return datetime.strptime(max(loaded), "%Y%m%d").date() if loaded else None


# --- 1. classify ------------------------------------------------------------------------


def lake_time_zone(settings: Settings | None = None) -> ZoneInfo:
    """The lake's time zone: Spark's session time zone, else the standard's Asia/Shanghai."""
    zone = "Asia/Shanghai"
    if settings is not None:
        zone = str((settings.spark.get("conf") or {}).get("spark.sql.session.timeZone", zone))
    return ZoneInfo(zone)


def landing_date(settings: Settings | None = None) -> date:
    """Today in the lake's time zone: what "later than landing" means."""
    return datetime.now(tz=lake_time_zone(settings)).date()


def manifest_problem(schema: FeedSchema, delivery: Delivery, today: date,
                     limits: LandingLimits) -> tuple[str, str] | None:
    """(code, detail) when a well-formed manifest still cannot be trusted for this folder, else None.

    A batch date is the day the department cut the extract and names the folder (standard §1):
    one later than the landing date (plus a small clock skew) or another than the folder's is
    an error of the extract, and a `full` delivery to a feed that only takes increments would
    end the currency of every record it does not hold.
    """
    manifest = delivery.manifest
    latest = today + timedelta(days=limits.batch_date_max_future_days)
    if batch_day(manifest.batch_date) > latest:
        return ("manifest_invalid", f"batch_date {manifest.batch_date} is later than the landing date "
                f"{today:%Y%m%d} allows (at most {limits.batch_date_max_future_days} day(s) ahead)")
    if manifest.batch_date != delivery.folder:
        return ("manifest_batch_date_mismatch",
                f"manifest batch_date {manifest.batch_date}, folder {delivery.folder}")
    if manifest.mode == "full" and "full" not in schema.modes:
        return ("mode_not_declared",
                f"full (schemas/{schema.feed_id}.yaml allows {', '.join(schema.modes)})")
    return None


def classify(
    schema: FeedSchema,
    delivery: Delivery,
    logged: dict[tuple[str, str], str],
    in_run: dict[str, str],
    manifest_bytes: bytes | None,
    today: date | None = None,
    limits: LandingLimits | None = None,
) -> Delivery:
    """Decide what can be decided from the listing and manifest alone (pure: no I/O).

    `logged`: {(delivery_id, status): location} already in the delivery log.
    `in_run`: {delivery_id: location} of candidates earlier in this run.
    `today`: the landing date (default: today in Asia/Shanghai).
    Leaves `status` None for a candidate that must be read.
    """
    feed_id = schema.feed_id
    limits = limits or landing_limits()
    if manifest_bytes is None:
        state_id = state_delivery_id(INCOMPLETE, feed_id, delivery.location, *delivery.fingerprint)
        delivery.logged = (state_id, INCOMPLETE) not in logged
        files = len(delivery.listing)
        return delivery.decide(INCOMPLETE, f"missing_manifest: no {MANIFEST_NAME} yet ({files} files)", state_id)
    try:
        delivery.manifest = parse_manifest(manifest_bytes, feed_id, limits.max_manifest_bytes)
    except ManifestError as error:
        state_id = state_delivery_id(REJECTED, feed_id, delivery.location, *delivery.fingerprint)
        delivery.logged = (state_id, REJECTED) not in logged
        return delivery.decide(REJECTED, str(error), state_id)
    content_id = delivery.manifest.delivery_id
    loaded_at = logged.get((content_id, LOADED)) or in_run.get(content_id)
    if loaded_at is not None:
        if loaded_at == delivery.location:
            delivery.logged = False  # this very folder was loaded before: nothing changed
            return delivery.decide(LOADED, None, content_id)
        delivery.logged = (content_id, DUPLICATE) not in logged
        reason = f"already_loaded: same feed, batch date and checksums as {loaded_at}"
        return delivery.decide(DUPLICATE, reason, content_id)
    state_id = state_delivery_id(REJECTED, content_id, delivery.location, *delivery.fingerprint)
    if (state_id, REJECTED) in logged:
        delivery.logged = False  # rejected before and unchanged since
        return delivery.decide(REJECTED, None, state_id)
    problem = manifest_problem(schema, delivery, today or landing_date(), limits)
    if problem is not None:
        return delivery.decide(REJECTED, ": ".join(problem), state_id)
    delivery.delivery_id = content_id
    in_run[content_id] = delivery.location
    return delivery


def classify_feed(schema: FeedSchema, root: str, logged: dict[tuple[str, str], str], today: date,
                  limits: LandingLimits) -> list[Delivery]:
    """Step 1 for every delivery folder of the feed under the (normalized) landing root: listings and
    manifests only, no Spark, nothing written. Candidates to be read are left with `status` None.

    `logged`: {(delivery_id, status): location} already in the delivery log (`audit.read_delivery_log`).
    `run` lands what this returns; `apps/dry_run.py` shows it.
    """
    feed_id = schema.feed_id
    feed_uri = storage.join(root, feed_id)
    deliveries: list[Delivery] = []
    in_run: dict[str, str] = {}
    if links.feed_is_symlink(root, feed_id):  # never listed: its folders lie outside the landing root
        deliveries.append(refuse_symlinks(Delivery(feed_id, "", feed_uri, []), [feed_id], logged))
        folders = []
    else:
        folders = storage.list_dirs(feed_uri)
    # Sorted folders: within one run the first copy of a re-sent delivery is the one loaded.
    for folder in folders:
        location = storage.join(feed_uri, folder)
        found = links.symlinks(root, feed_id, folder)
        if found:
            listing = links.lstat_listing(root, feed_id, folder)
            deliveries.append(refuse_symlinks(Delivery(feed_id, folder, location, listing), found, logged))
            continue
        listing = storage.list_files(location)
        delivery = Delivery(feed_id, folder, location, listing)
        # One byte more than the limit is enough to reject an oversized manifest.
        manifest_bytes = None
        if any(e.name == MANIFEST_NAME for e in listing):
            try:
                with _open(root, location, MANIFEST_NAME) as stream:
                    manifest_bytes = stream.read(limits.max_manifest_bytes + 1)
            except links.SymlinkRefused:  # a link planted after the check
                deliveries.append(refuse_symlinks(delivery, [MANIFEST_NAME], logged))
                continue
        deliveries.append(classify(schema, delivery, logged, in_run, manifest_bytes, today, limits))
    return deliveries


# --- 3. read and check --------------------------------------------------------------------


def _reject(delivery: Delivery, code: str, detail: str) -> Delivery:
    if delivery.staging is not None:
        delivery.staging.discard()
        delivery.staging = None
    state_id = state_delivery_id(REJECTED, delivery.manifest.delivery_id, delivery.location,
                                 *delivery.fingerprint)
    return delivery.decide(REJECTED, f"{code}: {detail}", state_id)


def _open(root: str | None, location: str, *parts: str):
    """A delivery file for reading; below a local landing root, without following any link."""
    if root is not None and links.local_path(root) is not None:
        relative = location.removeprefix(root.rstrip("/") + "/").split("/")
        return links.open_nofollow(root, *relative, *parts)
    return storage.open_input(storage.join(location, *parts))


def _read_file(schema: FeedSchema, stream_factory, sink: bronze.DeliveryStaging) -> FileResult:
    reader = READERS[schema.format]
    with stream_factory() as stream:
        return reader(stream, schema, sink)


def symlink_reason(found: list[str]) -> str:
    return (f"symlink: {', '.join(found)} is a symbolic link (refused: nothing a link points to is read, "
            f"nothing outside the landing root is opened)")


def refuse_symlinks(delivery: Delivery, found: list[str], logged: dict[tuple[str, str], str]) -> Delivery:
    """A delivery with a symbolic link in it (or that is one): rejected before anything of it is read."""
    state_id = state_delivery_id(REJECTED, delivery.feed_id, delivery.location, "symlink", *found,
                                 *delivery.fingerprint)
    delivery.logged = (state_id, REJECTED) not in logged
    return delivery.decide(REJECTED, symlink_reason(found), state_id)


def read_delivery(schema: FeedSchema, delivery: Delivery, staging_root: str, root: str | None = None) -> Delivery:
    """Check every file of a candidate against its manifest while staging its records.

    `root`: the landing root the delivery lies below; on a local one, files are opened without
    following links (a link planted after the listing rejects the delivery)."""
    manifest = delivery.manifest
    present = {e.name for e in delivery.listing}
    missing = [f.name for f in manifest.files if f.name not in present]
    if missing:
        return _reject(delivery, "missing_file", f"listed in the manifest but not delivered: {', '.join(missing)}")
    delivery.staging = bronze.DeliveryStaging(staging_root, schema, manifest.batch_date, manifest.delivery_id)
    notes: list[str] = []
    extra_columns: list[str] = []
    landed = quarantined = 0
    for entry in manifest.files:
        delivery.staging.start_file(entry.name)
        try:
            result = _read_file(schema, lambda name=entry.name: _open(root, delivery.location, name),
                                delivery.staging)
        except FileUnreadable as error:  # its content, not the storage: the delivery can never load
            return _reject(delivery, "file_unreadable", f"{entry.name}: {error}")
        except links.SymlinkRefused as error:
            return _reject(delivery, "symlink", f"{error} (refused: nothing a link points to is read)")
        if result.sha256 != entry.sha256:
            return _reject(delivery, "sha256_mismatch",
                           f"{entry.name}: manifest {entry.sha256}, delivered file {result.sha256}")
        if result.missing_required:
            return _reject(delivery, "missing_required_column",
                           f"{entry.name}: {', '.join(result.missing_required)}")
        if result.records != entry.rows:
            return _reject(delivery, "row_count_mismatch",
                           f"{entry.name}: manifest {entry.rows} rows, file holds {result.records} records")
        landed += result.landed
        quarantined += result.quarantined
        extra_columns += [c for c in result.extra_columns if c not in extra_columns]
    delivery.staging.close()
    if extra_columns:
        log.warning("%s %s: unknown columns kept in _extra: %s", schema.feed_id, delivery.folder,
                    ", ".join(extra_columns))
        notes.append(f"extra_columns: {', '.join(extra_columns)}")
    if manifest.mode not in schema.modes:  # an increment to a full-only feed (full ones are rejected)
        notes.append(f"mode_not_declared: {manifest.mode} (schema allows {', '.join(schema.modes)})")
    unlisted = sorted(present - {f.name for f in manifest.files} - {MANIFEST_NAME})
    if unlisted:
        notes.append(f"unlisted_files: {', '.join(unlisted)} (not landed)")
    delivery.rows_landed, delivery.rows_quarantined = landed, quarantined
    return delivery.decide(LOADED, "; ".join(notes) or None, manifest.delivery_id)


# --- the job ------------------------------------------------------------------------------


def _remove_stale_staging(settings: Settings, feed_id: str) -> None:
    """Staging left behind by a killed run of this feed. All of it: the lake's run lease (regulake/lease.py),
    held by this run, means no other run is landing this feed now."""
    base = storage.join(settings.lake_root, bronze.STAGING_ROOT, feed_id)
    fs, path = storage.resolve(base)
    if fs.get_file_info(path).type != pafs.FileType.Directory:
        return
    for info in fs.get_file_info(pafs.FileSelector(path)):
        if info.type == pafs.FileType.Directory:
            log.info("removing the staging %s of a run that did not finish", info.path)
            fs.delete_dir(info.path)


def run(ctx: StageContext) -> dict[str, Any]:
    """Land every new delivery of one feed (`ctx.feed_id`) into `bronze.<feed_id>`; log every decision.

    Returns {"feed_id", "run_id", "deliveries": [per-delivery summary], "unchanged": n,
    "rows_landed", "rows_quarantined", "seconds"} for the task log.
    """
    settings, run_id = ctx.settings, ctx.run_id
    landing_root, feed_id = ctx.require_landing(), ctx.require_feed()
    started = time.monotonic()
    schema = load_feed(feed_id)
    storage.configure(settings)
    root = normalize_root(landing_root)
    logged = audit.read_delivery_log(settings, feed_id)
    _remove_stale_staging(settings, feed_id)
    limits, today = landing_limits(), landing_date(settings)

    deliveries = classify_feed(schema, root, logged, today, limits)
    candidates = [d for d in deliveries if d.status is None]
    if candidates or any(d.logged for d in deliveries):
        _land(ctx.spark, settings, schema, root, run_id, deliveries, candidates)
    # else nothing to read or log: decided from listings and the log alone, no Spark session started

    for delivery in deliveries:
        _log_decision(delivery)
    new = [d for d in deliveries if d.logged]
    return {
        "feed_id": feed_id,
        "run_id": run_id,
        "deliveries": [d.summary() for d in new],
        "unchanged": len(deliveries) - len(new),
        "rows_landed": sum(d.rows_landed or 0 for d in new),
        "rows_quarantined": sum(d.rows_quarantined or 0 for d in new),
        "seconds": round(time.monotonic() - started, 3),
    }


def _land(spark: SparkSession, settings: Settings, schema: FeedSchema, root: str, run_id: str,
          deliveries: list[Delivery], candidates: list[Delivery]) -> None:
    """Read and check the candidates, write bronze and the quarantine, then log every new decision."""
    feed_id = schema.feed_id
    run_staging = bronze.new_staging_root(settings, feed_id)
    try:
        recovered = bronze.delivery_ids_in_bronze(
            spark, settings, feed_id, {d.delivery_id: d.manifest.batch_date for d in candidates})
        for index, delivery in enumerate(candidates):
            read_delivery(schema, delivery, storage.join(run_staging, f"d{index:04d}"), root)
            if delivery.status == LOADED and delivery.delivery_id in recovered:
                # Bronze committed in a run killed before its log write: the records are there,
                # the quarantine (idempotent) and the log entry are written below, the entry
                # the same as an uninterrupted run's (the recovery is said in the task log).
                delivery.recovered = True
                log.warning("%s %s: already in bronze from a run killed before logging it: not appended again",
                            feed_id, delivery.batch_date)
        write_landed(spark, settings, schema, [d for d in candidates if d.status == LOADED], recovered)
        audit.append_delivery_log(spark, settings, feed_id,
                                 [d.log_entry(run_id) for d in deliveries if d.logged])
    finally:
        storage.remove_tree(run_staging)


def write_landed(spark: SparkSession, settings: Settings, schema: FeedSchema, loaded: list[Delivery],
                 already_in_bronze: set[str]) -> None:
    """Bronze first (ONE append for every delivery of the run), then their parse-time quarantine.

    The quarantine write is idempotent, so a delivery found in bronze after a crash
    gets its quarantine rows without duplicates; its records are not appended again.
    """
    if not loaded:
        return
    for delivery in loaded:
        lineage.read_location(delivery.location)
    landed_dirs = [d.staging.bronze_dir for d in loaded
                   if d.rows_landed and d.delivery_id not in already_in_bronze]
    if landed_dirs or not lake.exists(spark, settings, "bronze", schema.feed_id):
        bronze.write_bronze(spark, settings, schema, landed_dirs)
    quarantined = [d for d in loaded if d.rows_quarantined]
    staged = (spark.read.schema(bronze.QUARANTINE_STAGED_SPARK_SCHEMA)
              .parquet(*[bronze.spark_uri(d.staging.quarantine_dir) for d in quarantined])
              if quarantined else None)
    # New unless bronze already had the delivery, or it has no bronze rows to tell by.
    provably_new = all(d.rows_landed and d.delivery_id not in already_in_bronze for d in quarantined)
    audit.write_quarantine(spark, settings, schema.feed_id, staged, provably_new)


def _log_decision(delivery: Delivery) -> None:
    if not delivery.logged:
        log.info("%s %s: unchanged since it was %s (not logged again)", delivery.feed_id, delivery.folder,
                 delivery.status)
        return
    log.info(
        "%s %s: %s manifest_rows=%s landed=%s quarantined=%s%s",
        delivery.feed_id, delivery.folder, delivery.status,
        delivery.manifest.rows if delivery.manifest else None,
        delivery.rows_landed, delivery.rows_quarantined,
        f" ({delivery.reason})" if delivery.reason else "",
    )
