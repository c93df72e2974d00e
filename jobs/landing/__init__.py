"""Landing: deliveries under `<landing_root>/<feed_id>/<batch_date>/` into `bronze.<feed_id>`.

Entry points for the DAG (one mapped task per feed):

    discover(landing_root) -> list[str]
    land_feed(spark, settings, landing_root, feed_id, run_id) -> dict
"""

from jobs.landing.job import discover, land_feed

__all__ = ["discover", "land_feed"]
