"""Calling a stage as the DAG does: `jobs.<stage>.job.run(StageContext)`."""

from __future__ import annotations

from datetime import date

from regulake.stage import StageContext


def context(spark, settings, run_id: str, as_of: date | None = None, *, landing=None,
            feed_id: str | None = None) -> StageContext:
    return StageContext(settings=settings, run_id=run_id, as_of=as_of or date.today(),
                        landing_root=None if landing is None else str(landing), feed_id=feed_id, session=spark)


def without_spark(settings, run_id: str, monkeypatch, *, landing=None, feed_id: str | None = None) -> StageContext:
    """A context whose stage must decide without Spark: asking for a session fails the test."""
    import regulake.spark

    def refused(*args, **kwargs):
        raise AssertionError("this stage asked for a Spark session with nothing new to do")

    monkeypatch.setattr(regulake.spark, "get_spark", refused)
    return context(None, settings, run_id, landing=landing, feed_id=feed_id)
