"""Outbound deliveries: national reporting and department subscriptions (docs/EXPORTS.md).

Runner: `jobs.export.job.run(settings, run_id, batch_date)`, called by the `regulake_export` DAG.
"""
