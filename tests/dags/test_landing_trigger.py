"""Runs start when deliveries arrive: the landing watcher (regulake/landing_trigger.py) and the main DAG's
schedule (its daily timetable OR the watched asset `regulake://landing`).

The trigger's `run()` is driven with asyncio against a tmp landing root, as the triggerer drives it."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import sys
from pathlib import Path

import pytest

from apps.airflow_env import DAGS_FOLDER
from regulake.feeds import feed_ids
from regulake.landing_trigger import (
    CLASSPATH,
    LANDING_ASSET_URI,
    MANIFEST_NAME,
    LandingTrigger,
    normalize_root,
    scan_landing,
)

FEED, OTHER = feed_ids()[:2]


def deliver(root: Path, feed: str, batch: str, *, manifest: bool = True, rows: int = 1) -> Path:
    """A delivery folder: its data file, then (standard §1: last) its manifest."""
    folder = root / feed / batch
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "part-0001.csv").write_text("id\n" + "".join(f"{i}\n" for i in range(rows)), encoding="utf-8")
    if manifest:
        (folder / MANIFEST_NAME).write_text(json.dumps({"feed_id": feed, "batch_date": batch, "rows": rows}),
                                            encoding="utf-8")
    return folder


class Watch:
    """A LandingTrigger running as in the triggerer (a task on the loop), its events collected and
    its listings counted, so a test can wait for a number of polls instead of for wall-clock time."""

    def __init__(self, trigger: LandingTrigger):
        self.trigger, self.events, self.scans = trigger, [], 0
        scan = trigger._scan

        async def counted():
            listing = await scan()
            self.scans += 1
            return listing

        trigger._scan = counted
        self.task: asyncio.Task | None = None

    async def __aenter__(self) -> Watch:
        async def consume():
            async for event in self.trigger.run():
                self.events.append(event.payload)

        self.task = asyncio.create_task(consume())
        await self.polls(1)
        return self

    async def __aexit__(self, *exc) -> None:
        self.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self.task

    async def polls(self, count: int) -> None:
        """Wait until `count` more listings have finished (a listing in flight may predate a change:
        three more guarantee two complete listings after it)."""
        target = self.scans + count
        for _ in range(2000):
            if self.task.done():
                self.task.result()  # the trigger died: raise its error
            if self.scans >= target:
                return
            await asyncio.sleep(0.005)
        raise AssertionError(f"the trigger listed {self.scans} times, not {target}")


class FakeStateStore:
    """Airflow's asset state store as the triggerer hands it to a watcher (aget/aset), in memory."""

    def __init__(self):
        self.values: dict = {}

    async def aget(self, key, default=None):
        return json.loads(self.values[key]) if key in self.values else default

    async def aset(self, key, value):
        self.values[key] = json.dumps(value)


# --- the listing ------------------------------------------------------------------------


def test_the_listing_holds_complete_deliveries_of_known_feeds_and_follows_no_link(tmp_path):
    root = tmp_path / "landing"
    assert scan_landing(str(root)) is None  # no landing root (yet)
    deliver(root, FEED, "20250301")
    deliver(root, FEED, "20250302", manifest=False)  # incomplete: no manifest yet
    deliver(root, "not_a_feed", "20250301")  # no schema: landing ignores it
    (root / OTHER).mkdir()
    (root / OTHER / "20250301").symlink_to(root / FEED / "20250301", target_is_directory=True)
    (root / FEED / "20250303").mkdir()
    (root / FEED / "20250303" / "nested").mkdir()
    (root / FEED / "20250303" / "nested" / MANIFEST_NAME).write_text("{}")  # deeper than <feed>/<batch>/

    listing = scan_landing(str(root))
    assert set(listing) == {f"{FEED}/20250301"}

    deliver(root, FEED, "20250301", rows=2)  # the folder's listing changed (a delivery sent again)
    assert scan_landing(str(root))[f"{FEED}/20250301"] != listing[f"{FEED}/20250301"]
    assert scan_landing("file://" + str(root)) == scan_landing(str(root))


def test_the_manifest_name_is_the_standards():
    from jobs.landing.manifest import MANIFEST_NAME as landing_manifest

    assert MANIFEST_NAME == landing_manifest


# --- run(): events ----------------------------------------------------------------------


def test_one_event_when_a_new_delivery_is_complete_none_while_incomplete_or_seen(tmp_path):
    root = tmp_path / "landing"
    deliver(root, FEED, "20250301")  # there before the watch: the baseline, no run for it

    async def scenario():
        async with Watch(LandingTrigger(landing_root=str(root), poll_seconds=0.01)) as watch:
            await watch.polls(3)
            assert watch.events == []

            deliver(root, FEED, "20250302", manifest=False)  # data files written, no manifest yet
            deliver(root, "not_a_feed", "20250302")
            await watch.polls(3)
            assert watch.events == []

            deliver(root, FEED, "20250302")  # its manifest, written last
            await watch.polls(3)
            assert watch.events == [{"landing_root": str(root), "count": 1, "deliveries": [f"{FEED}/20250302"]}]

            await watch.polls(3)  # seen: no second event for it
            assert len(watch.events) == 1

            deliver(root, FEED, "20250303")  # two at once: one event naming both
            deliver(root, OTHER, "20250303")
            await watch.polls(3)
            assert watch.events[1]["deliveries"] == sorted([f"{FEED}/20250303", f"{OTHER}/20250303"])

            deliver(root, FEED, "20250301", rows=5)  # the baseline delivery sent again, changed
            await watch.polls(3)
            assert [event["deliveries"] for event in watch.events[2:]] == [[f"{FEED}/20250301"]]

    asyncio.run(scenario())


def test_a_landing_root_created_by_its_first_delivery_starts_a_run(tmp_path):
    root = tmp_path / "landing"  # does not exist yet: nothing is there, so anything arriving is new

    async def scenario():
        async with Watch(LandingTrigger(landing_root=str(root), poll_seconds=0.01)) as watch:
            await watch.polls(2)
            deliver(root, FEED, "20250301")
            await watch.polls(3)
            assert [event["deliveries"] for event in watch.events] == [[f"{FEED}/20250301"]]

    asyncio.run(scenario())


def test_a_delivery_still_changing_waits_until_two_listings_agree(tmp_path):
    """`cp -r` may copy the manifest before the data files: a folder counts once it lists the same twice."""
    trigger = LandingTrigger(landing_root=str(tmp_path), poll_seconds=0)
    key = f"{FEED}/20250302"
    listings = iter([{}, {key: "a"}, {key: "b"}, {key: "c"}, {key: "c"}, {key: "c"}])

    class Done(Exception):
        pass

    async def scripted():
        try:
            return next(listings)
        except StopIteration:
            raise Done from None

    trigger._scan = scripted

    async def collect():
        events = []
        with pytest.raises(Done):
            async for event in trigger.run():
                events.append(event.payload["deliveries"])
        return events

    assert asyncio.run(collect()) == [[key]]  # once, after "c" was listed twice


def test_what_was_seen_survives_a_triggerer_restart(tmp_path):
    root = tmp_path / "landing"
    deliver(root, FEED, "20250301")
    store = FakeStateStore()

    def trigger(landing=root):
        made = LandingTrigger(landing_root=str(landing), poll_seconds=0.01)
        made.asset_state_store = store  # what the triggerer injects for an asset's watcher
        return made

    async def scenario():
        async with Watch(trigger()) as watch:
            deliver(root, FEED, "20250302")
            await watch.polls(3)
            assert [event["deliveries"] for event in watch.events] == [[f"{FEED}/20250302"]]
        deliver(root, OTHER, "20250302")  # arrives while the triggerer is down
        async with Watch(trigger()) as watch:
            await watch.polls(3)
            assert [event["deliveries"] for event in watch.events] == [[f"{OTHER}/20250302"]]
        # Another landing root: the state saved is not its; its first listing is the baseline.
        deliver(tmp_path / "other", FEED, "20250301")
        async with Watch(trigger(tmp_path / "other")) as watch:
            await watch.polls(3)
            assert watch.events == []

    asyncio.run(scenario())
    saved = json.loads(store.values["landing_watch"])
    assert saved["root"] == str(tmp_path / "other") and list(saved["seen"]) == [FEED]


# --- how Airflow stores and revives the trigger -------------------------------------------


def test_the_trigger_serializes_and_is_revived_by_its_classpath(tmp_path):
    from airflow.serialization.decoders import smart_decode_trigger_kwargs
    from airflow.serialization.encoders import encode_trigger
    from airflow.triggers.base import BaseEventTrigger

    def import_string(classpath):  # what the triggerer does with a trigger's classpath
        module, _, name = classpath.rpartition(".")
        return getattr(importlib.import_module(module), name)

    trigger = LandingTrigger(landing_root=str(tmp_path / "landing"), poll_seconds=7)
    classpath, kwargs = trigger.serialize()
    assert classpath == CLASSPATH and import_string(classpath) is LandingTrigger
    assert isinstance(trigger, BaseEventTrigger)  # what an AssetWatcher requires

    encoded = encode_trigger(trigger)  # what the DAG processor stores; the triggerer decodes it
    revived = import_string(encoded["classpath"])(
        **{key: smart_decode_trigger_kwargs(value) for key, value in encoded["kwargs"].items()})
    assert revived.serialize() == (classpath, kwargs)
    assert BaseEventTrigger.hash(*revived.serialize()) == BaseEventTrigger.hash(classpath, kwargs)
    # A relative landing root is made absolute when the DAG is parsed: the triggerer's directory may differ.
    assert LandingTrigger(landing_root="landing").landing_root == str(Path("landing").resolve())


# --- the main DAG's schedule --------------------------------------------------------------


@pytest.fixture(scope="module")
def main_dag():
    from apps.airflow_env import load_main_dag

    return load_main_dag()


def test_the_main_dag_runs_daily_or_when_the_landing_watcher_fires(main_dag):
    from airflow.sdk import Asset, AssetOrTimeSchedule, CronTriggerTimetable
    from airflow.serialization.serialized_objects import DagSerialization

    from regulake.config import load_settings

    timetable = main_dag.timetable
    assert isinstance(timetable, AssetOrTimeSchedule)
    assert isinstance(timetable.timetable, CronTriggerTimetable) and timetable.timetable.expression == "0 0 * * *"
    asset = timetable.asset_condition
    assert isinstance(asset, Asset) and asset.uri.rstrip("/") == LANDING_ASSET_URI
    [watcher] = asset.watchers
    landing = str(load_settings().section("pipeline")["landing_root"])
    assert watcher.trigger.serialize() == (CLASSPATH, {"landing_root": normalize_root(landing),
                                                      "poll_seconds": watcher.trigger.poll_seconds})
    # As the scheduler and the DAG processor see it: serialized, with the watcher's trigger in it.
    revived = DagSerialization.from_dict(DagSerialization.to_dict(main_dag)).timetable
    assert revived.summary == "Asset or 0 0 * * *"
    [(_, stored)] = list(revived.asset_condition.iter_assets())
    assert [w.trigger["classpath"] for w in stored.watchers] == [CLASSPATH]


def test_without_a_time_schedule_the_landing_asset_alone_schedules_it(tmp_path):
    from airflow.sdk import Asset

    sys.path.insert(0, str(DAGS_FOLDER))
    from regulake_main import _schedule

    schedule = _schedule({"landing_root": str(tmp_path), "schedule": None})
    assert isinstance(schedule, Asset) and schedule.watchers[0].trigger.landing_root == str(tmp_path)
    assert os.fspath(tmp_path) == schedule.watchers[0].trigger.serialize()[1]["landing_root"]


# --- end to end: Airflow's own scheduler, DAG processor and triggerer ----------------------

E2E_DAG = '''
from datetime import datetime

from airflow.sdk import dag, task

from regulake.landing_trigger import landing_asset


@dag(dag_id="landing_e2e", schedule=landing_asset({landing!r}, poll_seconds=1), start_date=datetime(2024, 1, 1),
     catchup=False, is_paused_upon_creation=False, tags=["test"], default_args={{"retries": 1}})
def landing_e2e():
    @task
    def noop():
        pass

    noop()


landing_e2e()
'''


def _query(db: Path, sql: str) -> list[tuple]:
    import sqlite3

    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as connection:
            return connection.execute(sql).fetchall()
    except sqlite3.OperationalError:  # not migrated yet, or locked by a writer: ask again
        return []


@pytest.mark.slow
def test_a_delivery_dropped_into_the_landing_root_starts_a_dag_run(tmp_path):
    """What `make airflow` runs (`airflow standalone`: scheduler, DAG processor, triggerer), as separate
    processes on a throwaway metadata DB, with a one-task DAG scheduled on the same watched asset as the
    main DAG (whose tasks would start Spark) and a one-second poll. Nobody triggers anything."""
    import signal
    import subprocess
    import time

    from regulake.config import PROJECT_ROOT

    home, dags, landing = tmp_path / "airflow", tmp_path / "dags", tmp_path / "landing"
    home.mkdir(), dags.mkdir()
    (dags / "landing_e2e.py").write_text(E2E_DAG.format(landing=str(landing)), encoding="utf-8")
    deliver(landing, FEED, "20250301")  # there before: no run for it
    db = home / "airflow.db"
    env = {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
           "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{db}", "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
           # Tasks are not the point, and another Airflow may own the default API port: point them nowhere.
           "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": "http://127.0.0.1:9/execution/",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))}
    airflow = str(Path(sys.executable).with_name("airflow"))
    started = time.monotonic()
    subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    processes = [subprocess.Popen([airflow, component], env=env, cwd=tmp_path, start_new_session=True,
                                  stdout=(tmp_path / f"{component}.log").open("w"), stderr=subprocess.STDOUT)
                 for component in ("dag-processor", "scheduler", "triggerer")]

    def wait_for(what: str, sql: str, seconds: float) -> list[tuple]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if rows := _query(db, sql):
                return rows
            dead = [p.args[1] for p in processes if p.poll() is not None]
            assert not dead, f"airflow {dead} exited: see {tmp_path}/*.log"
            time.sleep(1)
        logs = "\n".join(f"--- {p.args[1]}\n" + (tmp_path / f"{p.args[1]}.log").read_text()[-3000:] for p in processes)
        raise AssertionError(f"no {what} after {seconds:.0f} s\n{logs}")

    try:
        # The watcher's first listing (the baseline) is saved in the asset state store: it is running.
        wait_for("watcher state", "select value from asset_state_store where key = 'landing_watch'", 240)
        watching = time.monotonic()
        time.sleep(2)
        assert _query(db, "select run_id from dag_run where dag_id = 'landing_e2e'") == []
        deliver(landing, FEED, "20250302")
        [(run_id, run_type)] = wait_for("asset-triggered run", "select run_id, run_type from dag_run "
                                        "where dag_id = 'landing_e2e'", 60)
        seconds = time.monotonic() - watching
        assert run_type == "asset_triggered"
        [(extra,)] = _query(db, "select extra from asset_event")
        assert json.loads(extra)["payload"]["deliveries"] == [f"{FEED}/20250302"]
        [(state,)] = _query(db, "select value from asset_state_store where key = 'landing_watch'")
        assert set(json.loads(state)["seen"][FEED]) == {"20250301", "20250302"}
        print(f"watcher running after {watching - started:.0f} s; the run {run_id} {seconds:.0f} s after the drop")
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
