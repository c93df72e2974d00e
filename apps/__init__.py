"""The programs people run, on top of the stages: the `regulake` CLI, the SQL endpoint, Airflow's environment.

Layers: `regulake/` (lake libraries) ← `jobs/` (stages) ← `dags/` and `apps/` (may import both).
"""
