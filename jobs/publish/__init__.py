"""Publish: the run report (one self-contained HTML file under <lake>/_reports/) and the run's record.

Runner: `jobs.publish.job.run(ctx)`: writes the report, appends audit.pipeline_run and returns the
deliveries the quality gate still holds back.
"""
