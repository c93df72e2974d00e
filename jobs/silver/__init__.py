"""Silver: normalise, gate (Great Expectations) and promote bronze deliveries.

Runner: `jobs.silver.job.run(ctx)`, one mapped task per feed (`ctx.feed_id`); a held delivery raises
`jobs.silver.gate.GateFailed`.
"""
