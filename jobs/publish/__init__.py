"""Publish: the run report, one self-contained HTML file under <lake>/_reports/ (charts inline).

    from jobs.publish import publish
    publish(spark, settings, run_id, as_of)
"""

from jobs.publish.job import REPORT_NAME, REPORTS_DIR, publish

__all__ = ["REPORTS_DIR", "REPORT_NAME", "publish"]
