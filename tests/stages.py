"""Calling a stage as the DAG does: `jobs.<stage>.job.run(StageContext)`."""

from __future__ import annotations

from datetime import date

from regulake.stage import StageContext


def context(spark, settings, run_id: str, as_of: date | None = None, *, landing=None,
            feed_id: str | None = None) -> StageContext:
    return StageContext(settings=settings, run_id=run_id, as_of=as_of or date.today(),
                        landing_root=None if landing is None else str(landing), feed_id=feed_id, session=spark)
