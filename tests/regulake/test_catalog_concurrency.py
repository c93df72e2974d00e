"""Several processes share the lake's catalog: one writes while others query."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from regulake.catalog import register_table, save_view

REGULAKE = str(Path(sys.executable).with_name("regulake"))

WRITER = textwrap.dedent(
    """
    import sys, time
    from regulake.config import load_settings
    from regulake.spark import get_spark
    from regulake.catalog import register_table
    settings = load_settings(lake_root=sys.argv[1])
    spark = get_spark(settings, app_name="writer")
    path = settings.table_path("audit", "writer_log")
    spark.range(1).write.format("delta").mode("append").save(path)
    register_table(spark, settings.lake_root, "audit", "writer_log")
    print("ready", flush=True)
    deadline = time.time() + 900  # bounded: the test stops it long before
    while time.time() < deadline:
        spark.range(1).write.format("delta").mode("append").save(path)
    """
)


def _env() -> dict[str, str]:
    env = os.environ.copy()
    env["REGULAKE__SPARK__MASTER"] = "local[1]"
    env["REGULAKE__SPARK__CONF__spark.driver.memory"] = "1g"
    return env


def test_query_from_another_process_while_one_writes(spark, lake_settings):
    lake = lake_settings.lake_root
    spark.range(3).write.format("delta").mode("overwrite").save(lake_settings.table_path("audit", "shared"))
    register_table(spark, lake, "audit", "shared")
    save_view(spark, lake_settings, "audit", "shared_view", "SELECT id * 10 AS id10 FROM audit.shared")

    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, lake], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=_env()
    )
    try:
        assert writer.stdout.readline().strip() == "ready", "writer process did not start"
        tables = subprocess.run(
            [REGULAKE, "sql", "SHOW TABLES IN audit", "--lake", lake, "--format", "csv"],
            capture_output=True, text=True, env=_env(), timeout=300,
        )
        assert tables.returncode == 0, tables.stderr[-2000:]
        names = {line.split(",")[1] for line in tables.stdout.splitlines()[1:]}
        assert {"shared", "shared_view", "writer_log"} <= names
        total = subprocess.run(
            [REGULAKE, "sql", "SELECT sum(id10) AS s FROM audit.shared_view", "--lake", lake, "--format", "json"],
            capture_output=True, text=True, env=_env(), timeout=300,
        )
        assert total.returncode == 0, total.stderr[-2000:]
        assert total.stdout.strip() == '{"s": 30}'
        assert writer.poll() is None, "the writer should still be running while we query"
    finally:
        writer.terminate()
        writer.wait(timeout=60)
    # the writer's commits are all readable from this process too
    assert spark.read.format("delta").load(lake_settings.table_path("audit", "writer_log")).count() >= 1
