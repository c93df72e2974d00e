"""The one SparkSession factory: Airflow tasks, Spark jobs, dbt, the SQL endpoint and tests.

The session is built from `Settings.spark` (master, conf, jars) and the lake's
catalog is attached right after (see `regulake.catalog`). One session per
process; `get_spark()` returns it on later calls.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TypeVar

from pyspark.sql import DataFrame, SparkSession

from regulake import lineage
from regulake.catalog import attach_catalog
from regulake.config import Settings, conf_file, load_settings

log = logging.getLogger(__name__)
T = TypeVar("T")
_lock = threading.Lock()
_session: SparkSession | None = None

DELTA_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}


def session_conf(settings: Settings) -> dict[str, str]:
    """Every Spark conf the session needs; also used for spark-submit (SQL endpoint)."""
    from regulake.jars import local_jar_paths, required_artifacts

    conf = {str(k): str(v) for k, v in (settings.spark.get("conf") or {}).items()}
    # Extensions the settings add (the SQL endpoint's guard) run after Delta's.
    extensions = [DELTA_CONF["spark.sql.extensions"], *str(conf.get("spark.sql.extensions", "")).split(",")]
    conf.update(DELTA_CONF)
    conf["spark.sql.extensions"] = ",".join(dict.fromkeys(e.strip() for e in extensions if e.strip()))
    if settings.config.catalog == "hive_metastore":
        from regulake.metastore import metastore_conf

        for key, value in metastore_conf(settings).items():
            if key == "spark.driver.extraClassPath":  # beside any the settings give
                present = [p for p in str(conf.get(key, "")).split(os.pathsep) if p]
                value = os.pathsep.join(dict.fromkeys([*present, value]))
            conf[key] = value
    else:
        # No metastore: every process keeps an in-memory catalog rebuilt from the lake's own
        # paths, so any number of processes can share the lake.
        conf["spark.sql.catalogImplementation"] = "in-memory"
    conf["spark.sql.warehouse.dir"] = f"{settings.lake_root}/_warehouse"
    # The driver's console logging: Spark's defaults minus upstream WARNs no one can act on (the file says which).
    java_options = str(conf.get("spark.driver.extraJavaOptions", ""))
    if "log4j2.configurationFile" not in java_options:
        conf["spark.driver.extraJavaOptions"] = \
            f"{java_options} -Dlog4j2.configurationFile={conf_file('spark/log4j2.properties').as_uri()}".strip()
    # OpenLineage: one event pair per Spark query (regulake.lineage; nothing when lineage is off).
    conf |= lineage.spark_conf(settings, str(conf.get("spark.extraListeners", "")))
    if settings.spark.get("jar_source", "local") == "packages":
        conf["spark.jars.packages"] = ",".join(required_artifacts())
    else:
        conf["spark.jars"] = ",".join(local_jar_paths())
    return conf


def get_spark(settings: Settings | None = None, app_name: str | None = None) -> SparkSession:
    """The process's SparkSession, with Delta configured and the lake's catalog attached.

    With `spark.remote` set it is a Spark Connect session on that server (which was started with
    `session_conf`, see `apps.connect_server`): no JVM in this process."""
    settings = settings or load_settings()
    global _session
    with _lock:
        active = _session
        if settings.spark.get("remote"):
            if active is None or not is_connect(active):
                active = _connect(settings)
                _session = active
        elif active is None or active.sparkContext._jsc is None:
            _python_for_executors(settings)
            if str(settings.spark["master"]).startswith("local"):
                # A local driver talks to itself: bind it to loopback (else Spark warns that the host name
                # resolves to loopback and picks another interface).
                os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
            builder = SparkSession.builder.master(str(settings.spark["master"])).appName(
                app_name or str(settings.spark.get("app_name", "regulake"))
            )
            for key, value in session_conf(settings).items():
                builder = builder.config(key, value)
            log.info("starting Spark (%s), lake %s", settings.spark["master"], settings.lake_root)
            active = builder.getOrCreate()
            active.sparkContext.setLogLevel("WARN")
            _quiet_codegen_fallback(active)
            _session = active
        attach_catalog(active, settings)
        return active


def is_connect(spark: SparkSession) -> bool:
    """Whether `spark` is a Spark Connect client session (no SparkContext, no py4j)."""
    from pyspark.sql.utils import is_remote

    return is_remote() or type(spark).__module__.startswith("pyspark.sql.connect")


def register_remote_errors() -> None:
    """Delta's conflict exceptions raised as themselves over Spark Connect too (classic py4j gets
    them from `delta.exceptions`); importing delta.connect registers the conversion."""
    if os.environ.get("SPARK_CONNECT_MODE_ENABLED"):
        import delta.connect  # noqa: F401


def _connect(settings: Settings) -> SparkSession:
    remote = str(settings.spark["remote"])
    log.info("connecting to Spark Connect at %s, lake %s", remote, settings.lake_root)
    # Libraries that build their own session (dbt-spark's `method: session`) call
    # SparkSession.builder.getOrCreate(); with SPARK_REMOTE set that returns this session.
    os.environ["SPARK_REMOTE"] = remote
    session = SparkSession.builder.remote(remote).getOrCreate()
    register_remote_errors()
    # The server holds the static settings (extensions, jars, executors); a session may set
    # only the runtime ones: SQL behaviour such as the time zone and shuffle partitions.
    for key, value in (settings.spark.get("conf") or {}).items():
        if str(key).startswith("spark.sql.") and session.conf.isModifiable(str(key)):
            session.conf.set(str(key), str(value))
    return session


def _python_for_executors(settings: Settings) -> None:
    """Executors run the project's pandas UDFs, so they need the project's Python environment.

    On a local master they are this process's children: the driver's own interpreter. On a
    cluster that path means nothing on another machine; the settings name the workers'
    interpreter as `spark.pyspark.python`. PySpark started from Python (not spark-submit)
    reads only PYSPARK_PYTHON, so that is where the setting goes; an exported PYSPARK_PYTHON wins.
    """
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    cluster_python = (settings.spark.get("conf") or {}).get("spark.pyspark.python")
    if cluster_python:
        os.environ.setdefault("PYSPARK_PYTHON", str(cluster_python))
    elif str(settings.spark["master"]).startswith("local"):
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    elif "PYSPARK_PYTHON" not in os.environ:
        log.warning("Spark master %s: neither spark.pyspark.python nor PYSPARK_PYTHON is set; executors "
                    "run `python3` from their PATH, which needs the project's packages", settings.spark["master"])


# Wide projections (normalising every text column of a feed at once) exceed the JVM's
# 64 KB method limit; Spark then falls back to interpreted evaluation with the same
# results, but logs the generated Java source and the whole plan, hundreds of lines per
# delivery. Only the fallback's own loggers are lowered; the rest stays at WARN.
_CODEGEN_FALLBACK_LOGGERS = {
    "org.apache.spark.sql.catalyst.expressions.codegen.CodeGenerator": "FATAL",
    "org.apache.spark.sql.execution.WholeStageCodegenExec": "ERROR",
}


def _quiet_codegen_fallback(session: SparkSession) -> None:
    jvm = session.sparkContext._jvm
    log4j = jvm.org.apache.logging.log4j
    for name, level in _CODEGEN_FALLBACK_LOGGERS.items():
        log4j.core.config.Configurator.setLevel(name, log4j.Level.getLevel(level))


def balanced_reduce(function: Callable[[T, T], T], items: Sequence[T]) -> T:
    """`reduce(function, items)` as a balanced tree: log2(n) deep instead of n.

    Spark Connect sends a plan as nested protobuf messages, and protobuf refuses nesting deeper
    than 100 levels: a chain of 40 unions (or a sum of 40 columns) built one by one comes close."""
    if not items:
        raise ValueError("balanced_reduce of nothing")
    if len(items) == 1:
        return items[0]
    middle = len(items) // 2
    return function(balanced_reduce(function, items[:middle]), balanced_reduce(function, items[middle:]))


def union_all(frames: Sequence[DataFrame]) -> DataFrame:
    """The rows of every frame (matched by column name), as a shallow plan."""
    return balanced_reduce(DataFrame.unionByName, list(frames))


def stop_spark() -> None:
    global _session
    with _lock:
        if _session is not None:
            _session.stop()  # over Spark Connect: releases this client's session, the server stays
            _session = None


@contextmanager
def temporary_conf(spark: SparkSession, conf: Mapping[str, str]) -> Iterator[None]:
    """`conf` set on the session inside the block, the previous values (or their absence) put back afterwards."""
    previous = {key: spark.conf.get(key, None) for key in conf}
    for key, value in conf.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)
