"""Silver: normalise, gate (Great Expectations) and promote bronze deliveries (issue 4).

Entry point for the DAG: `promote_feed(spark, settings, feed_id, run_id)`.
"""

from jobs.silver.gate import GateFailed
from jobs.silver.job import held_deliveries, pending_deliveries, promote_feed

__all__ = ["GateFailed", "held_deliveries", "pending_deliveries", "promote_feed"]
