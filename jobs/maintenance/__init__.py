"""Delta table maintenance (OPTIMIZE, statistics, VACUUM), run weekly by dags/regulake_maintenance.py."""
