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

Once listening, the server records its host, port, pid and lake root for `regulake sql` (a 0600 file
under ~/.cache/regulake/serve, apps/sql_client.py), which then sends its statements here; the record
is removed first thing when the server stops.

Security (README: "Security model"): clients log in with a password checked against the users
file (HiveServer2 CUSTOM authentication, apps/endpoint_users.py); every statement passes the
guard (apps/jvm: read-only, no reads by path, per-role table grants from `serve.roles`) and is
appended to `audit.query_log` with the user, the tables read, the outcome and the rows returned.
A statement is cancelled after `serve.query_timeout_seconds`; a result over `serve.max_result_bytes`
fails. TLS is an option (`serve.tls`).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from apps.endpoint_users import list_users, roles, users_file
from apps.sql_client import remove_record, write_record
from regulake import storage
from regulake.catalog import VIEWS_DIR, discover_tables, refresh_catalog
from regulake.config import JARS_DIR, Settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

THRIFT_SERVER = "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 10000
# Built by `make setup` from apps/jvm with javac against the installed PySpark's jars.
GUARD_JAR = JARS_DIR / "regulake-endpoint.jar"
GUARD_PACKAGE = "io.regulake.endpoint"


class EndpointSetupError(RuntimeError):
    """The endpoint cannot start safely (no users, no guard jar, TLS without its password)."""


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


def thrift_conf(where: Endpoint, settings: Settings | None = None,
                environ: dict[str, str] | None = None) -> dict[str, str]:
    """HiveServer2 settings, passed through the session conf (the server copies it into its HiveConf)."""
    conf = {
        "hive.server2.thrift.bind.host": where.host,
        "hive.server2.thrift.port": str(where.port),
        "hive.server2.transport.mode": "binary",
        # Operation logs would go to /tmp/<user>/operation_logs and are not needed.
        "hive.server2.logging.operation.enabled": "false",
        # Password login against the users file; statements then run as the logged-in user (doAs),
        # which is how the guard knows whose statement it checks.
        "hive.server2.authentication": "CUSTOM",
        "hive.server2.custom.authentication.class": f"{GUARD_PACKAGE}.PasswordFileAuthenticator",
        "hive.server2.enable.doAs": "true",
    }
    tls = ((settings.section("serve") or {}).get("tls") if settings else None) or None
    if tls:
        environ = os.environ if environ is None else environ
        variable = tls.get("keystore_password_env", "REGULAKE_SERVE_KEYSTORE_PASSWORD")
        if not environ.get(variable):
            raise EndpointSetupError(f"serve.tls is set but ${variable} (the keystore password) is not")
        conf.update({"hive.server2.use.SSL": "true", "hive.server2.keystore.path": str(tls["keystore"]),
                     "hive.server2.keystore.password": environ[variable]})
    return conf


def guard_conf(settings: Settings) -> dict[str, str]:
    """Spark settings of the endpoint's own driver: the guard, the query log, timeouts and caps."""
    serve_conf = settings.section("serve") or {}
    return {
        "spark.sql.extensions": f"{GUARD_PACKAGE}.GuardExtension",
        "spark.sql.queryExecutionListeners": f"{GUARD_PACKAGE}.QueryLog",
        # Client sessions start from this: `SELECT * FROM json.`file:///…`` is not even resolved
        # (the guard refuses reads by path too). The server's own session turns it back on.
        "spark.sql.runSQLOnFiles": "false",
        "spark.sql.thriftServer.queryTimeout": f"{int(serve_conf.get('query_timeout_seconds', 300))}s",
        "spark.driver.maxResultSize": str(serve_conf.get("max_result_bytes", "256m")),
    }


def policy_properties(settings: Settings) -> str:
    """The guard's policy file (java.util.Properties): the read grants per role, the settable keys."""
    lines = [f"role.{role} = {', '.join(patterns)}" for role, patterns in sorted(roles(settings).items())]
    settable = (settings.section("serve") or {}).get("settable") or []
    lines.append(f"settable = {', '.join(settable)}")
    return "\n".join(lines) + "\n"


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
    if not GUARD_JAR.is_file():
        raise EndpointSetupError(f"{GUARD_JAR} is missing: run `make setup` (it builds the endpoint's guard)")
    classpath = os.pathsep.join(dict.fromkeys([*extra, *jars, str(GUARD_JAR)]))
    # The Thrift server runs inside its own driver, never as a Spark Connect client.
    # The endpoint answers analysts' queries: no lineage events for them.
    return settings.with_overrides(**{"spark": {"remote": None, "conf": {
        "spark.driver.extraClassPath": classpath, **guard_conf(settings)}}, "lineage.spark_listener": False})


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
        self._policy: Path | None = None
        self._unwritten: list[tuple] = []

    def start(self) -> ThriftServer:
        jvm = self.spark.sparkContext._jvm
        # Derby (Hive's in-memory execution store) would otherwise write derby.log in the cwd.
        jvm.java.lang.System.setProperty("derby.stream.error.file", "/dev/null")
        jvm.java.lang.System.setProperty("regulake.endpoint.users", str(users_file(self.settings)))
        handle, policy = tempfile.mkstemp(prefix="regulake-endpoint-policy-", suffix=".properties")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(policy_properties(self.settings))
        self._policy = Path(policy)
        jvm.java.lang.System.setProperty("regulake.endpoint.policy", policy)
        conf = thrift_conf(self.where, self.settings)
        for key, value in conf.items():
            self.spark.conf.set(key, value)
        # The server's own writes (audit.query_log) name Delta tables by path; clients' sessions
        # are new sessions, which start from the global `false`.
        self.spark.conf.set("spark.sql.runSQLOnFiles", "true")
        # Hive builds the CUSTOM authenticator from a fresh HiveConf, which sees system properties
        # but not the session conf.
        authenticator = "hive.server2.custom.authentication.class"
        jvm.java.lang.System.setProperty(authenticator, conf[authenticator])
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

    def flush_query_log(self) -> int:
        """Append the statements logged since the last flush to audit.query_log; how many."""
        from regulake import lake

        drained = self.spark.sparkContext._jvm.io.regulake.endpoint.QueryLog.drain()
        # Kept here until written: a failed append is retried at the next flush, nothing is lost.
        self._unwritten.extend(query_log_row(json.loads(line)) for line in drained)
        if not self._unwritten:
            return 0
        lake.audit_append(self.spark, self.settings, "query_log",
                          self.spark.createDataFrame(self._unwritten, lake.QUERY_LOG_SCHEMA))
        written, self._unwritten = len(self._unwritten), []
        return written

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
            log.info("SQL endpoint on %s stopped", self.where.jdbc_url)
        if self._policy is not None:
            self._policy.unlink(missing_ok=True)
            self._policy = None


def query_log_row(entry: dict) -> tuple:
    """One guard log entry (JSON from QueryLog.java) as an audit.query_log row."""
    def moment(millis):
        return None if millis is None else datetime.fromtimestamp(millis / 1000)

    return (entry.get("user"), entry.get("role"), moment(entry.get("started_ms")), moment(entry.get("finished_ms")),
            entry.get("statement"), list(entry.get("tables") or []), entry.get("outcome"), entry.get("reason"),
            entry.get("rows"))


def _record(settings: Settings, where: Endpoint) -> Path | None:
    """Where this endpoint listens, for `regulake sql` (apps/sql_client.py); None when it cannot be written."""
    tls = bool((settings.section("serve") or {}).get("tls"))
    try:
        path = write_record(settings.lake_root, where.host, where.port, tls=tls)
    except OSError as error:
        log.warning("`regulake sql` will not find this endpoint: cannot record it (%s)", error)
        return None
    log.info("recorded in %s for `regulake sql`", path)
    return path


def check_users(settings: Settings) -> None:
    """Refuse to start an endpoint nobody can log in to (rather than one anybody can)."""
    if not list_users(settings):
        raise EndpointSetupError(
            f"no endpoint users in {users_file(settings)}: add one with "
            "`regulake users add NAME --role analyst` (or steward) before `regulake serve`")


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
    check_users(settings)
    thrift_conf(where, settings)  # fails before the JVM starts when TLS lacks its password
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
    flush_seconds = float((settings.section("serve") or {}).get("query_log_flush_seconds", 5))
    record = None
    try:
        server.start()
        record = _record(settings, where)
        next_refresh = time.monotonic() + refresh_seconds
        while not stop.wait(min(refresh_seconds, flush_seconds)):
            try:
                server.flush_query_log()
            except Exception:  # noqa: BLE001 - kept in memory and written at the next flush
                log.warning("query log flush failed; retrying in %ss", flush_seconds, exc_info=True)
            if time.monotonic() >= next_refresh:
                next_refresh = time.monotonic() + refresh_seconds
                try:
                    server.refresh()
                except Exception:  # noqa: BLE001 - a half-written folder must not take the endpoint down
                    log.warning("catalog refresh failed; retrying in %ss", refresh_seconds, exc_info=True)
    finally:
        if record is not None:
            remove_record(record)  # first: `regulake sql` stops sending statements here
        server.stop()
        try:
            server.flush_query_log()
        finally:
            stop_spark()
    return 0
