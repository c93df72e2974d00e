"""One long-running Spark driver that every task reaches over Spark Connect (`spark.remote`).

Why: with Airflow's LocalExecutor (or Celery, Kubernetes) each task is its own process. A Spark
driver per task costs a JVM start, the Delta jars, executors from the cluster and the catalog
attach: measured 111 s per task (median) on the loopback cluster, against seconds for the work of
most tasks. A Spark Connect server (Spark 4's `SparkConnectServer`) is one driver, started
once with the lake's settings (`regulake.spark.session_conf`: Delta's extension, jars, s3a,
executors); a task then opens a gRPC session to it in about 2 s (`regulake.spark.get_spark`
with `spark.remote` set) and holds no JVM.

What the clients need from it: SQL (Delta's MERGE, UPDATE, OPTIMIZE, VACUUM go as SQL; Delta's
Python `DeltaTable` API over Connect needs the delta-connect server plugin, which is not
published on Maven Central for Delta 4.4), DataFrames and pandas UDFs (run by the server's
executors, so they need the project's Python there: `spark.pyspark.python`), GX's Spark
datasource and dbt-spark's `session` method (both take the active session, a Connect one here).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from regulake.config import Settings

SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
DEFAULT_PORT = 15002


def remote_address(remote: str) -> tuple[str, int]:
    """(host, port) of an `sc://host:port[/;params]` URL."""
    rest = remote.removeprefix("sc://").split("/", 1)[0].split(";", 1)[0]
    host, _, port = rest.partition(":")
    return host or "127.0.0.1", int(port or DEFAULT_PORT)


def server_command(settings: Settings, host: str, port: int) -> list[str]:
    """spark-submit of the Connect server with the lake's session settings."""
    import pyspark

    from regulake.spark import session_conf

    conf = session_conf(settings)
    conf["spark.connect.grpc.binding.address"] = host
    conf["spark.connect.grpc.binding.port"] = str(port)
    conf.setdefault("spark.pyspark.python", sys.executable)  # the executors' Python on a local master
    spark_submit = Path(pyspark.__file__).parent / "bin" / "spark-submit"
    command = [str(spark_submit), "--class", SERVER_CLASS, "--master", str(settings.spark["master"]),
               "--name", f"{settings.spark.get('app_name', 'regulake')}-connect"]
    for key, value in sorted(conf.items()):
        command += ["--conf", f"{key}={value}"]
    return command


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> int:
    """Run the server in the foreground until it stops; its exit code."""
    remote = str(settings.spark.get("remote") or f"sc://127.0.0.1:{DEFAULT_PORT}")
    default_host, default_port = remote_address(remote)
    env = {**os.environ, "PYSPARK_PYTHON": os.environ.get("PYSPARK_PYTHON", sys.executable)}
    env.pop("SPARK_REMOTE", None)  # the server is the driver, not a client
    return subprocess.call(server_command(settings, host or default_host, port or default_port), env=env)
