"""Landing: deliveries under `<landing_root>/<feed_id>/<batch_date>/` into `bronze.<feed_id>`.

Runner: `jobs.landing.job.run(ctx)`, one mapped task per feed (`ctx.feed_id`); `job.discover(landing_root)`
lists the feeds with delivery folders.
"""
