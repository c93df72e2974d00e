"""What every stage's entry point receives: `run(ctx: StageContext) -> dict`.

The DAG builds one context per task from its params and run, and calls the
stage's `jobs/<stage>/job.py:run` with it; tests and benchmarks build one
directly. The as-of date is fixed once per run (`run_as_of`: the param, a
scheduled run's data interval, the latest batch date of the deliveries, or the
day the run was created), so a run that crosses midnight uses one date in every
task.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from regulake.config import Settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@dataclass(frozen=True)
class StageContext:
    """One stage invocation: where the lake is, which run, which as-of date (and feed, for mapped stages)."""

    settings: Settings
    run_id: str
    as_of: date
    landing_root: str | None = None
    feed_id: str | None = None
    session: SparkSession | None = None
    # Spark's job group for everything this stage runs (e.g. "promote_feed[tax_credit]"): the Spark UI
    # and event log (benchmarks/profile.py) attribute each job to its stage by it.
    label: str | None = None

    @property
    def spark(self) -> SparkSession:
        """The given session, or the process's one (regulake.spark.get_spark builds it once)."""
        if self.session is not None:
            session = self.session
        else:
            from regulake.spark import get_spark

            session = get_spark(self.settings)
        if self.label:
            from regulake.spark import is_connect

            if is_connect(session):
                session.clearTags()  # one tag per stage: the server's UI groups the jobs by it
                session.addTag(_tag(self.label))
            else:
                session.sparkContext.setJobGroup(self.label, self.label)
        return session

    def for_feed(self, feed_id: str) -> StageContext:
        return replace(self, feed_id=feed_id)

    def require_feed(self) -> str:
        if not self.feed_id:
            raise ValueError("this stage runs per feed: StageContext.feed_id is not set")
        return self.feed_id

    def require_landing(self) -> str:
        if not self.landing_root:
            raise ValueError("this stage reads deliveries: StageContext.landing_root is not set")
        return self.landing_root


def _tag(label: str) -> str:
    """A Spark Connect tag for a stage label (tags admit no commas)."""
    return label.replace(",", ";") or "stage"


def run_as_of(param: str | None, run_created: datetime | None, settings: Settings, *,
              scheduled_interval_end: datetime | None = None,
              latest_batch: Callable[[], date | None] | None = None) -> tuple[date, str]:
    """The run's as-of date and why it is that date, first that applies:

    1. the `as_of` param;
    2. a scheduled run: the last day of its data interval (a daily run at midnight covers yesterday);
    3. the latest batch date of the deliveries (`latest_batch()`, landing or lake): a run over
       historical deliveries classifies on their date, not on the wall clock, whose look-back
       windows would be empty;
    4. the day the run was created.

    Days are in the lake's time zone; every task of a run gets the same answer.
    """
    if param:
        return date.fromisoformat(str(param)), "the as_of param"
    if scheduled_interval_end is not None:
        return local_date(scheduled_interval_end - timedelta(microseconds=1), settings), \
            "the last day of the scheduled run's data interval"
    latest = latest_batch() if latest_batch is not None else None
    if latest is not None:
        return latest, "the latest batch date of the deliveries"
    return local_date(run_created, settings), "the day the run was created (no delivery found)"


def local_date(moment: datetime | None, settings: Settings) -> date:
    """The day of `moment` (default now) in the lake's time zone."""
    zone = ZoneInfo(str(settings.spark.get("conf", {}).get("spark.sql.session.timeZone", "UTC")))
    return (moment or datetime.now(tz=ZoneInfo("UTC"))).astimezone(zone).date()
