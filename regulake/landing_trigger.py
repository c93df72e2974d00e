"""Runs start when deliveries arrive: the landing root as an Airflow asset with a watcher.

The main DAG is scheduled on its daily timetable OR on the asset `regulake://landing`
(dags/regulake_main.py). The asset's watcher runs `LandingTrigger` in Airflow's triggerer: an
event-driven trigger (`BaseEventTrigger`), so it holds no worker slot and no task; it lists the
landing root every `poll_seconds` (an `asyncio.sleep` between cheap listings, the listing itself
in a thread) and yields one `TriggerEvent` whenever one or more deliveries are complete and new.
Airflow turns each event into an asset event, and the asset event into a DAG run (run type
`asset_triggered`); events that arrive while a run is going are merged into the one next run.

What counts (standard §1, `<landing_root>/<feed_id>/<batch_date>/`, `manifest.json` written last):

* only feeds with a schema (`schemas/<feed>.yaml`); folders that are symbolic links are never
  followed (landing refuses them anyway, jobs/landing/links.py);
* a delivery folder counts once its manifest exists, and its listing (every file's name, size and
  modification time) is the same in two listings in a row: a folder still being copied (`cp -r`
  may copy the manifest before the data files) waits one more poll;
* it is new when its folder was not seen before or its listing changed since it was last seen
  (a delivery sent again into the same folder).

What has been seen is kept in Airflow's asset state store (Airflow 3.3: key/value state per asset
in the metadata DB, which the triggerer hands to an asset's watcher), so it survives triggerer
restarts, redistribution to another triggerer and the DAG being paused: deliveries that arrived
meanwhile start a run when the watcher runs again. It is saved after the event is handed over, so
a crash in between fires an event twice rather than never (a run over deliveries landing already
holds changes nothing). With no saved state yet (a new Airflow metadata DB, the first unpause, a
different landing root), the first listing is the baseline and starts nothing: what is already
there is left to the daily run (catchup is off: Airflow starts the latest one on the first
unpause) or to a person. A landing root that does not exist yet is an empty baseline: the deliveries
that create it start a run. One that vanishes (an unmounted share) empties what was seen, so its
deliveries start one run when it is back.
Without the state store (the trigger driven outside a triggerer, e.g. in tests) the state is kept
in memory only.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

CLASSPATH = "regulake.landing_trigger.LandingTrigger"
LANDING_ASSET_URI = "regulake://landing"
WATCHER_NAME = "regulake_landing_deliveries"
# The data exchange standard §1 (jobs/landing/manifest.py has the same name; regulake/ cannot import jobs/).
MANIFEST_NAME = "manifest.json"
# Seconds between two listings of the landing root. A new delivery starts a run one to two polls
# after its last file is written (it must list the same twice); a listing is a few directory reads.
POLL_SECONDS = 30.0
STATE_KEY = "landing_watch"
# An event names at most this many deliveries (and counts them all): the payload is stored with the
# asset event in Airflow's metadata DB.
MAX_NAMED = 50


def normalize_root(landing_root: str) -> str:
    """An absolute local path (relative ones against the current directory, as landing resolves
    them), or the object-store URI without a trailing slash."""
    root = str(landing_root)
    if "://" not in root:
        return str(Path(root).expanduser().resolve())
    if root.startswith("file://"):
        return "file://" + str(Path(root[len("file://"):]).resolve())
    return root.rstrip("/")


def _signature(files: Iterable[tuple[str, int, int]]) -> str:
    """A short digest of a folder's listing: (name, size, mtime_ns) of every file in it."""
    digest = hashlib.sha256()
    for name, size, mtime_ns in sorted(files):
        digest.update(f"{name}\0{size}\0{mtime_ns}\n".encode())
    return digest.hexdigest()[:12]


def _known_feeds() -> set[str]:
    from regulake.feeds import feed_ids

    return set(feed_ids())


def _scan_local(root: Path, feeds: set[str]) -> dict[str, str] | None:
    """{"feed/batch": listing signature} of every local delivery folder holding a manifest; None when
    the root is not a folder. Two levels of directory reads, `lstat` only: no link is followed."""
    try:
        top = list(os.scandir(root))
    except (FileNotFoundError, NotADirectoryError):
        return None
    found: dict[str, str] = {}
    for feed in top:
        if feed.name not in feeds or not feed.is_dir(follow_symlinks=False):
            continue
        try:
            batches = [entry for entry in os.scandir(feed.path) if entry.is_dir(follow_symlinks=False)]
        except OSError:
            continue  # removed or unreadable meanwhile: the next listing sees it again
        for batch in batches:
            try:
                files = [(entry.name, stat.st_size, stat.st_mtime_ns)
                         for entry in os.scandir(batch.path) if not entry.is_dir(follow_symlinks=False)
                         for stat in (entry.stat(follow_symlinks=False),)]
            except OSError:
                continue
            if any(name == MANIFEST_NAME for name, _, _ in files):
                found[f"{feed.name}/{batch.name}"] = _signature(files)
    return found


def _scan_object_store(root: str, feeds: set[str]) -> dict[str, str] | None:
    """The same for an s3a:// landing root: one recursive listing per feed folder."""
    import pyarrow.fs as pafs

    from regulake import storage

    fs, path = storage.resolve(root)
    if fs.get_file_info(path).type != pafs.FileType.Directory:
        return None
    found: dict[str, str] = {}
    for feed in storage.list_dirs(root):
        if feed not in feeds:
            continue
        base = f"{path.rstrip('/')}/{feed}/"
        folders: dict[str, list[tuple[str, int, int]]] = {}
        for info in fs.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True)):
            parts = info.path[len(base):].split("/") if info.path.startswith(base) else []
            if len(parts) == 2 and info.type == pafs.FileType.File:  # <batch>/<file>, nothing deeper
                folders.setdefault(parts[0], []).append((parts[1], int(info.size or 0), int(info.mtime_ns or 0)))
        for batch, files in folders.items():
            if any(name == MANIFEST_NAME for name, _, _ in files):
                found[f"{feed}/{batch}"] = _signature(files)
    return found


def scan_landing(landing_root: str, feeds: set[str] | None = None) -> dict[str, str] | None:
    """{"feed/batch": signature of its listing} for every delivery folder with a manifest under the
    landing root, for the known feeds; None when the landing root does not exist (yet)."""
    feeds = _known_feeds() if feeds is None else feeds
    root = normalize_root(landing_root)
    if "://" not in root:
        return _scan_local(Path(root), feeds)
    if root.startswith("file://"):
        return _scan_local(Path(root[len("file://"):]), feeds)
    return _scan_object_store(root, feeds)


class LandingTrigger(BaseEventTrigger):
    """Yields a TriggerEvent each time complete, new deliveries are under `landing_root`; never returns.

    :param landing_root: the folder the deliveries arrive in (local path or s3a:// URI).
    :param poll_seconds: seconds between two listings.
    """

    def __init__(self, landing_root: str, poll_seconds: float = POLL_SECONDS, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.landing_root = normalize_root(landing_root)
        self.poll_seconds = float(poll_seconds)
        self._memory: dict[str, Any] | None = None  # the state when no asset state store is at hand

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return CLASSPATH, {"landing_root": self.landing_root, "poll_seconds": self.poll_seconds}

    # --- what has been seen --------------------------------------------------------------

    async def _load_seen(self) -> dict[str, str] | None:
        """The deliveries seen for this landing root, None when nothing was saved for it."""
        stored: Any = self._memory
        if self.asset_state_store is not None:
            try:
                stored = await self.asset_state_store.aget(STATE_KEY)
            except Exception as error:  # the API unreachable: watch on, from memory
                self.log.warning("cannot read the landing watch state (%s): keeping it in memory", error)
                stored = self._memory
        if not isinstance(stored, dict) or stored.get("root") != self.landing_root:
            return None
        return {f"{feed}/{batch}": str(sig) for feed, batches in (stored.get("seen") or {}).items()
                for batch, sig in batches.items()}

    async def _save_seen(self, seen: dict[str, str]) -> None:
        grouped: dict[str, dict[str, str]] = {}
        for key, sig in sorted(seen.items()):
            feed, batch = key.split("/", 1)
            grouped.setdefault(feed, {})[batch] = sig
        self._memory = {"root": self.landing_root, "seen": grouped}
        if self.asset_state_store is not None:
            try:
                await self.asset_state_store.aset(STATE_KEY, self._memory)
            except Exception as error:
                self.log.warning("cannot save the landing watch state (%s): kept in memory only", error)

    # --- the watch -----------------------------------------------------------------------

    async def _scan(self) -> dict[str, str] | None:
        """The listing ({} while the landing root does not exist), None when it cannot be listed now."""
        try:
            listing = await asyncio.to_thread(scan_landing, self.landing_root)
        except Exception as error:  # an unreachable object store, a vanished mount: try again next poll
            self.log.warning("cannot list the landing root %s: %s", self.landing_root, error)
            return None
        return {} if listing is None else listing

    async def run(self) -> AsyncIterator[TriggerEvent]:
        seen = await self._load_seen()
        previous: dict[str, str] | None = None
        self.log.info("watching %s for complete deliveries every %.0f s (%s)", self.landing_root,
                      self.poll_seconds, "state saved" if seen is not None else "first listing is the baseline")
        while True:
            listing = await self._scan()
            if listing is not None:
                if seen is None:
                    seen = dict(listing)
                    await self._save_seen(seen)
                else:
                    # Complete: the same listing twice in a row. New: not seen with this listing.
                    settled = {key: sig for key, sig in listing.items() if (previous or {}).get(key) == sig}
                    new = sorted(key for key, sig in settled.items() if seen.get(key) != sig)
                    gone = [key for key in seen if key not in listing]
                    if new:
                        self.log.info("new deliveries under %s (%d): %s", self.landing_root, len(new),
                                      ", ".join(new[:MAX_NAMED]))
                        yield TriggerEvent({"landing_root": self.landing_root, "count": len(new),
                                            "deliveries": new[:MAX_NAMED]})
                        seen.update((key, settled[key]) for key in new)
                    for key in gone:  # removed (archived) folders: seen again only if they come back
                        del seen[key]
                    if new or gone:
                        await self._save_seen(seen)
                previous = listing
            await asyncio.sleep(self.poll_seconds)


def landing_asset(landing_root: str, poll_seconds: float = POLL_SECONDS):
    """The asset `regulake://landing`, watched by a LandingTrigger on `landing_root`."""
    from airflow.sdk import Asset, AssetWatcher

    return Asset(LANDING_ASSET_URI, watchers=[
        AssetWatcher(name=WATCHER_NAME, trigger=LandingTrigger(landing_root=landing_root, poll_seconds=poll_seconds)),
    ])
