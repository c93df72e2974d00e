"""The lake's run lease: one pipeline run writes a lake at a time.

Two runs on one lake (the scheduler's and a person's `regulake run`) would otherwise meet only in
Delta's optimistic commits, which guard single tables, not a run's sequence of stages. The lease is
one small JSON file, `<lake>/_lease/run.json`, naming its holder: run id, host, pid, when it was
taken and its last heartbeat.

- Acquire is re-entrant: every task of a DAG run (retries too) acquires with the run's id; for the
  holder that only renews the heartbeat. Another holder's lease makes the acquirer wait
  (`pipeline.lease_wait_seconds`, polling) and then raise `LeaseHeld`, naming the holder.
- A lease is stale when its heartbeat is older than `pipeline.lease_ttl_seconds`, or when its holder
  runs the whole DAG run in one process (`regulake run`: `pid_bound`) on this host and that pid is
  gone. A stale lease is taken over, with a warning naming the stale holder.
- Release removes the lease only for its holder.

Local lakes (also shared mounts with atomic hard links and O_EXCL): a new lease is written to a
temporary file and hard-linked into place (fails when one exists; O_CREAT|O_EXCL where links are not
supported), so exactly one of racing acquirers wins. A takeover first wins a marker named after the
stale lease's token (O_CREAT|O_EXCL), re-reads the lease and replaces it only when it is still the
very lease judged stale (same heartbeat), so a takeover never removes a live lease, and of racing
takers only one replaces it. Left: a holder renewing in the microseconds between a taker's re-read
and replace, which needs the holder to have been silent for a whole TTL first.

Object stores (`s3a://`) have no atomic create in `pyarrow.fs`: the acquirer writes its lease, waits
`settle_seconds` and reads it back; whoever's lease is read back holds it. Two acquirers whose
write/read-back windows interleave exactly can both believe they won: a weaker guarantee that
relies on runs starting seconds apart (the scheduler's `max_active_runs=1` covers its own runs).

Heartbeats are wall-clock times: hosts sharing a lake need synchronised clocks (well under the TTL).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pyarrow.fs as pafs

from regulake import storage

if TYPE_CHECKING:
    from regulake.config import Settings

log = logging.getLogger(__name__)

LEASE_DIR = "_lease"
LEASE_FILE = "run.json"
# Set by `regulake run` to its own pid: this process runs every task of the DAG run (dag.test), so
# when the pid is gone the run is over. Scheduler tasks are separate short processes: TTL only.
PROCESS_ENV = "REGULAKE_LEASE_PID"
# A takeover marker older than this belongs to a taker that died in mid-takeover (it holds it for
# milliseconds): it no longer blocks others.
_MARKER_SECONDS = 60.0


@dataclass(frozen=True)
class Holder:
    """Who holds the lease. `token` identifies one acquisition; `heartbeat` is epoch seconds."""

    run_id: str
    host: str
    pid: int
    started: float
    heartbeat: float
    token: str
    pid_bound: bool = False

    def describe(self) -> str:
        return (
            f"run {self.run_id!r} (host {self.host}, pid {self.pid}, since {_iso(self.started)}, "
            f"last heartbeat {_iso(self.heartbeat)})"
        )

    def to_json(self) -> str:
        return (
            json.dumps(
                {**asdict(self), "started_at": _iso(self.started), "heartbeat_at": _iso(self.heartbeat)},
                indent=2,
            )
            + "\n"
        )

    @classmethod
    def from_json(cls, text: str) -> Holder:
        data = json.loads(text)
        return cls(
            run_id=str(data["run_id"]),
            host=str(data["host"]),
            pid=int(data["pid"]),
            started=float(data["started"]),
            heartbeat=float(data["heartbeat"]),
            token=str(data["token"]),
            pid_bound=bool(data.get("pid_bound", False)),
        )


class LeaseHeld(RuntimeError):
    """The lake is leased by another run."""

    def __init__(self, path: str, holder: Holder, waited: float, ttl: float) -> None:
        self.holder = holder
        waited_text = f" after waiting {waited:.0f}s" if waited else ""
        super().__init__(
            f"the lake is leased by {holder.describe()}{waited_text}: another regulake run is writing it. "
            f"Retry when it has finished; a dead holder's lease is taken over once its heartbeat is "
            f"{ttl:.0f}s old (pipeline.lease_ttl_seconds), or remove {path} by hand"
        )


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def lease_path(lake_root: str) -> str:
    return storage.join(lake_root, LEASE_DIR, LEASE_FILE)


class Lease:
    """The run lease of one lake. `clock` is for tests."""

    def __init__(
        self,
        lake_root: str,
        *,
        ttl_seconds: float = 900,
        wait_seconds: float = 0,
        poll_seconds: float = 5.0,
        settle_seconds: float = 1.0,
        clock=time.time,
    ) -> None:
        self.lake_root = str(lake_root)
        self.path = lease_path(self.lake_root)
        self.ttl = float(ttl_seconds)
        self.wait = float(wait_seconds)
        self.poll = float(poll_seconds)
        self.settle = float(settle_seconds)
        self.clock = clock
        self.local = storage.is_local(self.lake_root)
        self._fs, self._fs_path = storage.resolve(self.path)

    @classmethod
    def for_settings(cls, settings: Settings, **kwargs) -> Lease:
        pipeline = settings.section("pipeline")
        return cls(
            settings.lake_root,
            ttl_seconds=pipeline.get("lease_ttl_seconds", 900),
            wait_seconds=pipeline.get("lease_wait_seconds", 0),
            **kwargs,
        )

    # --- reading -------------------------------------------------------------------

    def holder(self) -> Holder | None:
        """The current holder, stale or not; None when nobody holds the lease."""
        try:
            with self._fs.open_input_stream(self._fs_path) as stream:
                text = stream.read().decode("utf-8")
        except FileNotFoundError:
            return None
        except OSError:
            if self._fs.get_file_info(self._fs_path).type == pafs.FileType.NotFound:
                return None
            raise
        try:
            return Holder.from_json(text)
        except (ValueError, KeyError, TypeError):
            # Half-written (the O_EXCL fallback) or damaged: held by nobody known, stale after the TTL.
            mtime = self._fs.get_file_info(self._fs_path).mtime
            seen = mtime.timestamp() if mtime else self.clock()
            return Holder("(unreadable lease file)", "?", 0, seen, seen, f"unreadable-{seen:.6f}")

    def stale_reason(self, holder: Holder) -> str | None:
        """Why `holder`'s lease may be taken over, or None while it is live."""
        age = self.clock() - holder.heartbeat
        if age > self.ttl:
            return f"no heartbeat for {age:.0f}s (lease_ttl_seconds {self.ttl:.0f})"
        if holder.pid_bound and holder.host == socket.gethostname() and not _pid_alive(holder.pid):
            return f"its process {holder.pid} on this host is gone"
        return None

    # --- acquiring -----------------------------------------------------------------

    def acquire(self, run_id: str, *, pid_bound: bool = False) -> Holder:
        """Hold the lease for `run_id` (renewing it when already held by that run), waiting up to
        `wait_seconds` for another holder; else `LeaseHeld` naming that holder."""
        started = self.clock()
        while True:
            current = self.holder()
            if current is None:
                mine = self._new(run_id, pid_bound)
                if self._create(mine):
                    log.info("lake lease taken by run %s (%s)", run_id, self.path)
                    return mine
                continue  # another acquirer was faster: look at its lease
            reason = self.stale_reason(current)
            if current.run_id == run_id and reason is None:
                return self._renew(current, pid_bound)
            if reason is not None:
                mine = self._new(
                    run_id, pid_bound, started=current.started if current.run_id == run_id else None
                )
                outcome = self._take_over(current, mine)
                if outcome is True:
                    log.warning(
                        "lake lease taken over by run %s from the stale %s: %s",
                        run_id,
                        current.describe(),
                        reason,
                    )
                    return mine
                if outcome is None:  # another taker is at it: look again in a moment
                    time.sleep(0.05)
                continue
            waited = self.clock() - started
            if waited >= self.wait:
                raise LeaseHeld(self.path, current, waited, self.ttl)
            log.info("lake lease held by %s; waiting (%.0fs of %.0fs)", current.describe(), waited, self.wait)
            time.sleep(max(0.01, min(self.poll, self.wait - waited)))

    def renew(self, run_id: str) -> bool:
        """Refresh the heartbeat if `run_id` holds a live lease; never creates one. False: not held."""
        current = self.holder()
        if current is None or current.run_id != run_id or self.stale_reason(current) is not None:
            return False
        self._renew(current, current.pid_bound)
        return True

    def release(self, run_id: str) -> bool:
        """Remove the lease if `run_id` holds it; another holder's lease is left alone."""
        current = self.holder()
        if current is None or current.run_id != run_id:
            if current is not None:
                log.info("lake lease not released by run %s: held by %s", run_id, current.describe())
            return False
        try:
            self._fs.delete_file(self._fs_path)
        except FileNotFoundError:
            return False
        log.info("lake lease released by run %s", run_id)
        return True

    # --- the file operations -------------------------------------------------------

    def _new(self, run_id: str, pid_bound: bool, started: float | None = None) -> Holder:
        now = self.clock()
        return Holder(
            run_id,
            socket.gethostname(),
            os.getpid(),
            now if started is None else started,
            now,
            uuid.uuid4().hex,
            pid_bound,
        )

    def _renew(self, current: Holder, pid_bound: bool) -> Holder:
        renewed = replace(
            current, host=socket.gethostname(), pid=os.getpid(), heartbeat=self.clock(), pid_bound=pid_bound
        )
        if self.local:
            self._replace_local(renewed)
        else:
            storage.write_text(self.path, renewed.to_json())
        return renewed

    def _create(self, mine: Holder) -> bool:
        """Write `mine` only if no lease exists; True when it is ours."""
        if not self.local:
            return self._write_and_check(mine)
        os.makedirs(os.path.dirname(self._fs_path), exist_ok=True)
        temp = self._temp(mine)
        try:
            os.link(temp, self._fs_path)
            return True
        except FileExistsError:
            return False
        except OSError:  # no hard links on this filesystem: O_EXCL, briefly half-written
            try:
                fd = os.open(self._fs_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                return False
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(mine.to_json())
                handle.flush()
                os.fsync(handle.fileno())
            return True
        finally:
            os.unlink(temp)

    def _take_over(self, stale: Holder, mine: Holder) -> bool | None:
        """Replace the lease `stale` by `mine`. True: done; False: the lease changed meanwhile;
        None: another taker holds the takeover marker."""
        if not self.local:
            return self._write_and_check(mine)
        marker = os.path.join(os.path.dirname(self._fs_path), f"takeover-{stale.token}")
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        except FileExistsError:
            try:
                if time.time() - os.stat(marker).st_mtime > _MARKER_SECONDS:
                    os.unlink(marker)  # its taker died mid-takeover
            except FileNotFoundError:
                pass
            return None
        try:
            if self.holder() != stale:  # renewed, released or already taken over
                return False
            self._replace_local(mine)
            return True
        finally:
            os.unlink(marker)

    def _temp(self, holder: Holder) -> str:
        folder = os.path.dirname(self._fs_path)
        os.makedirs(folder, exist_ok=True)
        temp = os.path.join(folder, f".{LEASE_FILE}.{uuid.uuid4().hex}.tmp")
        with open(temp, "w", encoding="utf-8") as handle:
            handle.write(holder.to_json())
            handle.flush()
            os.fsync(handle.fileno())
        return temp

    def _replace_local(self, holder: Holder) -> None:
        os.replace(self._temp(holder), self._fs_path)

    def _write_and_check(self, mine: Holder) -> bool:
        """Object stores: write, let racing writers land, read back: the lease read back wins."""
        storage.write_text(self.path, mine.to_json())
        time.sleep(self.settle)
        return self.holder() == mine


# --- keeping a lease alive while a task runs ----------------------------------------

_keepers: dict[tuple[str, str], threading.Thread] = {}
_keepers_lock = threading.Lock()


def keep_alive(lease: Lease, run_id: str) -> None:
    """Renew `run_id`'s lease every third of the TTL from a daemon thread, one per process and run,
    until the lease is no longer that run's (released, or lost): a long stage keeps it live."""
    key = (lease.path, run_id)
    with _keepers_lock:
        if key in _keepers and _keepers[key].is_alive():
            return
        interval = max(0.2, lease.ttl / 3)

        def beat() -> None:
            while True:
                time.sleep(interval)
                try:
                    if not lease.renew(run_id):
                        return
                except Exception:  # a storage hiccup: the next beat tries again
                    log.warning("lake lease heartbeat failed for run %s", run_id, exc_info=True)

        thread = threading.Thread(target=beat, name=f"lease-heartbeat-{run_id}", daemon=True)
        _keepers[key] = thread
        thread.start()


def hold(settings: Settings, run_id: str) -> Holder:
    """Acquire (or renew) the lake's lease for a DAG run's task and keep it alive while the process
    runs. `regulake run` marks its process as running the whole run (PROCESS_ENV)."""
    lease = Lease.for_settings(settings)
    holder = lease.acquire(run_id, pid_bound=os.environ.get(PROCESS_ENV) == str(os.getpid()))
    keep_alive(lease, run_id)
    return holder


def holder_message(settings: Settings, run_id: str) -> str | None:
    """Why `run_id` could not run: another holder's live lease, described; None otherwise."""
    lease = Lease.for_settings(settings)
    current = lease.holder()
    if current is None or current.run_id == run_id or lease.stale_reason(current) is not None:
        return None
    return str(LeaseHeld(lease.path, current, 0, lease.ttl))
