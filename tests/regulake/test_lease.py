"""The lake's run lease: one holder at a time, re-entrant, stale leases taken over, races have one winner."""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from regulake.lease import Holder, Lease, LeaseHeld, holder_message, keep_alive, lease_path


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def _lease(lake, **kwargs) -> Lease:
    return Lease(str(lake), **{"ttl_seconds": 900, "poll_seconds": 0.02, **kwargs})


def _on_disk(lake) -> dict:
    return json.loads(open(lease_path(str(lake)), encoding="utf-8").read())


def test_acquire_renew_release(tmp_path):
    clock = Clock()
    lease = _lease(tmp_path, clock=clock)
    assert lease.holder() is None
    first = lease.acquire("run-a")
    on_disk = _on_disk(tmp_path)
    assert (on_disk["run_id"], on_disk["host"], on_disk["pid"]) == (
        "run-a",
        socket.gethostname(),
        os.getpid(),
    )
    clock.now += 60
    again = lease.acquire("run-a")  # another task of the same run: a renewal
    assert again.token == first.token and again.started == first.started
    assert again.heartbeat == first.heartbeat + 60 == lease.holder().heartbeat
    assert lease.renew("run-a") and not lease.renew("run-b")
    assert lease.release("run-a")
    assert lease.holder() is None and not os.path.exists(lease_path(str(tmp_path)))
    assert not lease.renew("run-a")  # a heartbeat after release does not bring the lease back
    assert lease.holder() is None


def test_another_holder_is_refused_with_a_message_naming_it(tmp_path):
    _lease(tmp_path).acquire("scheduled__2024-03-31")
    with pytest.raises(LeaseHeld) as refused:
        _lease(tmp_path).acquire("manual__person")
    message = str(refused.value)
    assert "'scheduled__2024-03-31'" in message and socket.gethostname() in message
    assert f"pid {os.getpid()}" in message and "since 20" in message
    assert refused.value.holder.run_id == "scheduled__2024-03-31"
    assert _lease(tmp_path).holder().run_id == "scheduled__2024-03-31"  # untouched


def test_release_by_a_non_holder_does_nothing(tmp_path):
    lease = _lease(tmp_path)
    holder = lease.acquire("run-a")
    assert not lease.release("run-b")
    assert lease.holder() == holder


def test_waits_for_the_holder_then_acquires(tmp_path):
    holder = _lease(tmp_path)
    holder.acquire("run-a")
    releaser = threading.Timer(0.3, holder.release, args=("run-a",))
    releaser.start()
    started = time.monotonic()
    got = _lease(tmp_path, wait_seconds=10).acquire("run-b")
    releaser.join()
    assert got.run_id == "run-b" == _lease(tmp_path).holder().run_id
    assert 0.25 <= time.monotonic() - started < 5


def test_waiting_gives_up_after_lease_wait_seconds(tmp_path):
    _lease(tmp_path).acquire("run-a")
    started = time.monotonic()
    with pytest.raises(LeaseHeld, match="after waiting"):
        _lease(tmp_path, wait_seconds=0.3).acquire("run-b")
    assert 0.25 <= time.monotonic() - started < 5


def test_a_lease_without_heartbeat_for_the_ttl_is_taken_over(tmp_path, caplog):
    clock = Clock()
    _lease(tmp_path, clock=clock).acquire("run-old")
    clock.now += 899
    with pytest.raises(LeaseHeld):
        _lease(tmp_path, clock=clock).acquire("run-new")
    clock.now += 2
    with caplog.at_level("WARNING", logger="regulake.lease"):
        got = _lease(tmp_path, clock=clock).acquire("run-new")
    assert got.run_id == "run-new" == _lease(tmp_path).holder().run_id
    assert "taken over by run run-new from the stale run 'run-old'" in caplog.text
    assert "no heartbeat for 901s" in caplog.text
    assert os.listdir(tmp_path / "_lease") == ["run.json"]  # no marker or temporary file left


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _plant(lake, **fields) -> Holder:
    """A lease file written as another process would have."""
    now = time.time()
    holder = Holder(
        **{
            "run_id": "run-other",
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started": now,
            "heartbeat": now,
            "token": "t" * 32,
            "pid_bound": True,
            **fields,
        }
    )
    os.makedirs(tmp := os.path.dirname(lease_path(str(lake))), exist_ok=True)
    with open(os.path.join(tmp, "run.json"), "w", encoding="utf-8") as handle:
        handle.write(holder.to_json())
    return holder


def test_a_pid_bound_lease_whose_process_is_gone_is_taken_over(tmp_path, caplog):
    _plant(tmp_path, pid=_dead_pid())
    with caplog.at_level("WARNING", logger="regulake.lease"):
        got = _lease(tmp_path).acquire("run-b")
    assert got.run_id == "run-b"
    assert "on this host is gone" in caplog.text


def test_a_dead_pid_counts_only_for_pid_bound_leases_on_this_host(tmp_path):
    dead = _dead_pid()
    _plant(tmp_path, pid=dead, pid_bound=False)  # a scheduler task's pid: it exits between tasks
    with pytest.raises(LeaseHeld):
        _lease(tmp_path).acquire("run-b")
    _plant(tmp_path, pid=dead, host="another-host")  # that host's pids mean nothing here
    with pytest.raises(LeaseHeld):
        _lease(tmp_path).acquire("run-b")
    _plant(tmp_path, pid=os.getpid())  # alive
    with pytest.raises(LeaseHeld):
        _lease(tmp_path).acquire("run-b")


def test_a_takeover_never_replaces_a_lease_renewed_meanwhile(tmp_path):
    clock = Clock()
    lease = _lease(tmp_path, clock=clock)
    old = lease.acquire("run-a")
    clock.now += 1000
    stale = lease.holder()
    lease.acquire("run-a")  # the holder comes back: its own stale lease is taken over by itself
    mine = lease._new("run-b", False)
    assert lease._take_over(stale, mine) is False
    assert lease.holder().run_id == "run-a" and lease.holder().started == old.started


def test_an_unreadable_lease_file_blocks_until_the_ttl(tmp_path):
    clock = Clock()
    path = lease_path(str(tmp_path))
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as handle:
        handle.write("{half")
    clock.now = os.stat(path).st_mtime + 10
    with pytest.raises(LeaseHeld, match="unreadable lease file"):
        _lease(tmp_path, clock=clock).acquire("run-b")
    clock.now += 900
    assert _lease(tmp_path, clock=clock).acquire("run-b").run_id == "run-b"


def test_keep_alive_renews_the_heartbeat_until_released(tmp_path):
    lease = _lease(tmp_path, ttl_seconds=0.9)  # a beat every 0.3 s
    first = lease.acquire("run-a")
    keep_alive(lease, "run-a")
    time.sleep(1.2)
    assert lease.holder().heartbeat > first.heartbeat + 0.5
    assert lease.release("run-a")
    time.sleep(0.5)
    assert lease.holder() is None


def test_holder_message_names_another_live_holder_only(tmp_path):
    from regulake.config import load_settings

    settings = load_settings(lake_root=tmp_path)
    assert holder_message(settings, "run-b") is None
    Lease.for_settings(settings).acquire("run-a")
    assert "'run-a'" in holder_message(settings, "run-b")
    assert holder_message(settings, "run-a") is None


def _race(lake: str, run_id: str, start: float, stale: bool) -> str:
    while time.time() < start:
        pass
    try:
        Lease(lake).acquire(run_id)
        return run_id
    except LeaseHeld:
        return ""


@pytest.mark.parametrize("stale", [False, True], ids=["fresh", "stale"])
def test_racing_processes_exactly_one_wins(tmp_path, stale):
    context = multiprocessing.get_context("spawn")
    with context.Pool(4) as pool:
        for round_ in range(8):
            lake = str(tmp_path / f"lake{round_}")
            if stale:  # every racer sees a stale lease and takes it over
                os.makedirs(lake)
                _plant(lake, pid=_dead_pid())
            start = time.time() + 0.3
            winners = [
                w for w in pool.starmap(_race, [(lake, f"run-{i}", start, stale) for i in range(4)]) if w
            ]
            assert len(winners) == 1, f"round {round_}: winners {winners}"
            assert Lease(lake).holder().run_id == winners[0]
