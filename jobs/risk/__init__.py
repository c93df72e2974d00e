"""Credit-risk classes A/B/C/D and risk warnings; see docs/RISK.md.

Runner: `jobs.risk.job.run(ctx)`; the pure steps are indicators, scoring, veto, history and warnings.
"""
