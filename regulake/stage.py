"""What every stage's entry point receives: `run(ctx: StageContext) -> dict`.

The DAG builds one context per task from its params and run, and calls the
stage's `jobs/<stage>/job.py:run` with it; tests and benchmarks build one
directly. The as-of date is fixed once per run (the param, or the day the run
was created in the lake's time zone), so a run that crosses midnight uses one
date in every task.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
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


def run_as_of(param: str | None, run_created: datetime | None, settings: Settings) -> date:
    """The run's as-of date: the `as_of` param, else the day the run was created in the lake's time zone."""
    if param:
        return date.fromisoformat(str(param))
    zone = ZoneInfo(str(settings.spark.get("conf", {}).get("spark.sql.session.timeZone", "UTC")))
    return (run_created or datetime.now(tz=ZoneInfo("UTC"))).astimezone(zone).date()
