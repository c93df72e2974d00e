"""The shared catalog (`catalog: hive_metastore`): Spark's Hive client on a metastore database.

Spark's built-in Hive 2.3 metastore client keeps the tables and the `public` views in the
database of `metastore:` (PostgreSQL on the loopback cluster), so every Spark process, the stock
Thrift server and other engines see the same catalog without the lake-path attach, and BI users
can be given `public` only.

The metastore's schema is created once, up front: `python -m regulake.metastore` runs
DataNucleus' SchemaTool over the Hive metastore's own mapping (`package.jdo` in PySpark's
hive-metastore jar), with the identifier settings Hive uses. Hive's `schematool` scripts ship
only in Hive's binary tarball (not in PySpark, not on Maven Central), and letting DataNucleus
create tables lazily (`datanucleus.schema.autoCreateAll`) deadlocks on PostgreSQL: a foreign key
added on one connection waits for the lock the metastore's open transaction holds on another.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from regulake.config import ConfigError, Settings, load_settings

# What Hive 2.3's HiveConf gives DataNucleus: the schema must be created with the same naming.
_DATANUCLEUS = {
    "datanucleus.identifierFactory": "datanucleus1",
    "datanucleus.rdbms.useLegacyNativeValueStrategy": "true",
    "datanucleus.storeManagerType": "rdbms",
    "datanucleus.rdbms.initializeColumnInfo": "NONE",
}
_DRIVER_CLASS = "org.postgresql.Driver"


def _connection(settings: Settings) -> dict[str, str]:
    metastore = settings.config.metastore
    if not metastore.url:
        raise ConfigError("catalog: hive_metastore needs metastore.url (jdbc:postgresql://host:port/database), "
                          "e.g. REGULAKE__METASTORE__URL")
    connection = {"javax.jdo.option.ConnectionURL": metastore.url,
                  "javax.jdo.option.ConnectionDriverName": _DRIVER_CLASS}
    if metastore.user:
        connection["javax.jdo.option.ConnectionUserName"] = metastore.user
    password = os.environ.get(metastore.password_env)
    if password:
        connection["javax.jdo.option.ConnectionPassword"] = password
    return connection


def _driver_jar() -> str:
    from regulake.jars import METASTORE_JDBC_DRIVER, jar_path

    return str(jar_path(METASTORE_JDBC_DRIVER))


def metastore_conf(settings: Settings) -> dict[str, str]:
    """The Spark settings of the shared catalog. The password comes from the environment variable
    `metastore.password_env`; Spark redacts it in its UI and event log ("password" matches
    spark.redaction.regex)."""
    conf = {"spark.sql.catalogImplementation": "hive",
            "spark.hadoop.hive.metastore.schema.verification": "false",
            # Hive's client finds the JDBC driver through DriverManager, which sees only the
            # system classpath (not spark.jars).
            "spark.driver.extraClassPath": _driver_jar()}
    conf.update({f"spark.hadoop.{key}": value for key, value in {**_connection(settings), **_DATANUCLEUS}.items()})
    return conf


def init_schema(settings: Settings) -> None:
    """Create the metastore's tables that are missing (idempotent: SchemaTool adds only what lacks)."""
    import pyspark

    jars = Path(pyspark.__file__).parent / "jars"
    metastore_jar = next(iter(sorted(jars.glob("hive-metastore-*.jar"))), None)
    if metastore_jar is None:
        raise FileNotFoundError(f"no hive-metastore jar in {jars}")
    with tempfile.TemporaryDirectory(prefix="regulake-metastore-") as scratch:
        with zipfile.ZipFile(metastore_jar) as jar:
            mapping = jar.extract("package.jdo", scratch)
        properties = Path(scratch) / "datanucleus.properties"
        properties.write_text("".join(f"{k}={v}\n" for k, v in {**_connection(settings), **_DATANUCLEUS}.items()))
        properties.chmod(0o600)
        classpath = os.pathsep.join([f"{jars}/*", _driver_jar()])
        done = subprocess.run(["java", "-cp", classpath, "org.datanucleus.store.schema.SchemaTool", "-create",
                               "-api", "JDO", "-props", str(properties), mapping],
                              capture_output=True, text=True, timeout=600)
    if done.returncode != 0 or "completed successfully" not in done.stdout:
        raise RuntimeError(f"creating the metastore schema in {settings.config.metastore.url} failed:\n"
                           f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


if __name__ == "__main__":
    current = load_settings()
    init_schema(current)
    print(f"metastore schema ready in {current.config.metastore.url}", file=sys.stderr)
