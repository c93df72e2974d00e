"""The SQL endpoint: a Spark Thrift Server (HiveServer2 protocol) over the lake's catalog.

Why a Python process rather than `spark-submit --class ...HiveThriftServer2`: the
server must see the lake-path catalog (`regulake.catalog`), which only our session
factory builds. So `serve()` builds the session with `regulake.spark.get_spark()`
(Delta, in-memory catalog filled from the lake) and starts the server on it through
py4j with `HiveThriftServer2.startWithSparkSession`. Each client connection gets a
new Spark session sharing that catalog, so every table and view the lake holds is
visible, and Delta gives each query a consistent snapshot while a DAG run writes.

No metastore is created: the session keeps `spark.sql.catalogImplementation=in-memory`.
Hive's own execution client, which HiveServer2 needs for its session bookkeeping,
runs on a transient in-memory Derby (`jdbc:derby:memory:`): nothing is written to
disk and no table is registered there.

Tables and views that a concurrent run creates appear after the next refresh: every
`refresh_seconds` the lake's folders are listed and, when the listing changed,
`refresh_catalog()` registers what is new. SIGINT / SIGTERM stop the server and the
session cleanly (exit code 0).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from regulake import storage
from regulake.catalog import VIEWS_DIR, discover_tables, refresh_catalog
from regulake.config import Settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

THRIFT_SERVER = "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 10000


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int

    @property
    def jdbc_url(self) -> str:
        return f"jdbc:hive2://{self.host}:{self.port}/default"

    @property
    def sqlalchemy_url(self) -> str:
        return f"hive://{self.host}:{self.port}/default"


def endpoint(settings: Settings, host: str | None = None, port: int | None = None) -> Endpoint:
    """Where to listen: explicit values, else `serve.host` / `serve.port` of the settings."""
    conf = settings.section("serve") or {}
    return Endpoint(host or str(conf.get("host", DEFAULT_HOST)), int(port or conf.get("port", DEFAULT_PORT)))


def thrift_conf(where: Endpoint) -> dict[str, str]:
    """HiveServer2 settings, passed through the session conf (the server copies it into its HiveConf)."""
    return {
        "hive.server2.thrift.bind.host": where.host,
        "hive.server2.thrift.port": str(where.port),
        "hive.server2.transport.mode": "binary",
        # Operation logs would go to /tmp/<user>/operation_logs and are not needed.
        "hive.server2.logging.operation.enabled": "false",
    }


def serving_settings(settings: Settings) -> Settings:
    """The settings with the Delta jars also on the driver's system classpath.

    HiveServer2 opens a client's session (and runs the `USE <db>` of a JDBC URL such as
    `jdbc:hive2://host:port/public`) on a Thrift worker thread whose context class loader is
    Hive's, which does not see `spark.jars`; Spark then fails to load the Delta catalog plugin.
    On the system classpath every loader finds it. With `jar_source: packages` the jars are
    resolved first by Spark's own Ivy (in a throwaway process) and their local paths added.
    """
    from regulake.jars import local_jar_paths, resolved_package_jars
    from regulake.spark import session_conf

    conf = settings.spark.get("conf") or {}
    extra = [p for p in str(conf.get("spark.driver.extraClassPath", "")).split(os.pathsep) if p]
    if settings.spark.get("jar_source", "local") == "packages":
        jars = resolved_package_jars(session_conf(settings))
    else:
        jars = local_jar_paths()
    classpath = os.pathsep.join(dict.fromkeys(extra + jars))
    # The Thrift server runs inside its own driver, never as a Spark Connect client.
    return settings.with_overrides(spark={"remote": None, "conf": {"spark.driver.extraClassPath": classpath}})


def lake_signature(spark: SparkSession, settings: Settings) -> tuple:
    """What the catalog depends on: the Delta table folders and the persisted view files."""
    tables = tuple(sorted((db, tuple(names)) for db, names in discover_tables(settings.lake_root).items()))
    views = tuple((f.name, f.mtime_ns, f.size) for f in storage.list_files(f"{settings.lake_root}/{VIEWS_DIR}"))
    return tables, views


class ThriftServer:
    """A running HiveServer2 endpoint on this process's Spark session."""

    def __init__(self, spark: SparkSession, settings: Settings, where: Endpoint):
        self.spark = spark
        self.settings = settings
        self.where = where
        self._server = None
        self._signature: tuple | None = None

    def start(self) -> ThriftServer:
        jvm = self.spark.sparkContext._jvm
        # Derby (Hive's in-memory execution store) would otherwise write derby.log in the cwd.
        jvm.java.lang.System.setProperty("derby.stream.error.file", "/dev/null")
        for key, value in thrift_conf(self.where).items():
            self.spark.conf.set(key, value)
        self._signature = lake_signature(self.spark, self.settings)
        server_class = getattr(jvm, THRIFT_SERVER)
        # exitOnError=False: a failure raises here instead of calling System.exit in the JVM.
        self._server = server_class.startWithSparkSession(self.spark._jsparkSession, False)
        log.info("SQL endpoint listening on %s (lake %s)", self.where.jdbc_url, self.settings.lake_root)
        return self

    def refresh(self) -> bool:
        """Register tables and views created since the last look; True when something changed."""
        current = lake_signature(self.spark, self.settings)
        if current == self._signature:
            return False
        refresh_catalog(self.spark, self.settings)
        self._signature = current
        log.info("catalog refreshed from %s", self.settings.lake_root)
        return True

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
            log.info("SQL endpoint on %s stopped", self.where.jdbc_url)


def serve(
    settings: Settings,
    host: str | None = None,
    port: int | None = None,
    refresh_seconds: float = 30.0,
    stop: threading.Event | None = None,
) -> int:
    """Serve the lake until SIGINT/SIGTERM (or `stop` is set); returns the exit code (0 = clean stop)."""
    from regulake.spark import get_spark, stop_spark

    stop = stop or threading.Event()
    where = endpoint(settings, host, port)
    settings = serving_settings(settings)
    spark = get_spark(settings, app_name=f"regulake-serve-{where.port}")
    # After the session exists: SparkContext installs its own SIGINT handler (cancel jobs,
    # raise KeyboardInterrupt), which would turn Ctrl-C into exit code 130.
    if threading.current_thread() is threading.main_thread():
        def on_signal(received: int, _frame) -> None:
            log.info("signal %d received: stopping the SQL endpoint", received)
            stop.set()

        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, on_signal)
    server = ThriftServer(spark, settings, where)
    try:
        server.start()
        while not stop.wait(refresh_seconds):
            try:
                server.refresh()
            except Exception:  # noqa: BLE001 - a half-written folder must not take the endpoint down
                log.warning("catalog refresh failed; retrying in %ss", refresh_seconds, exc_info=True)
    finally:
        server.stop()
        stop_spark()
    return 0
