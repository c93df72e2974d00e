"""The stages, one package each with a `job.py` whose `run(ctx: StageContext)` the DAG calls.

landing → silver → linking → dbt → risk → inspection → scorecards → publish; maintenance on its own DAG.
"""
