"""The JVM artifacts regulake needs, derived from the installed wheels.

`python -m regulake.jars` prints one Maven coordinate per line; `make setup`
fetches them into .jars/ with `mvn dependency:copy` (more robust here than
Ivy at session start). `python -m regulake.jars --cluster` prints what s3a and a
PostgreSQL metastore need beyond that (`make setup-cluster`).
"""

from __future__ import annotations

import sys
from importlib.metadata import version
from pathlib import Path

from regulake.config import JARS_DIR, load_settings


def delta_artifacts() -> list[str]:
    import pyspark

    spark_minor = ".".join(pyspark.__version__.split(".")[:2])
    delta_version = version("delta-spark")
    # Same naming rule as delta/pip_utils.py in the delta-spark wheel.
    return [
        f"io.delta:delta-spark_{spark_minor}_2.13:{delta_version}",
        f"io.delta:delta-storage:{delta_version}",
    ]


# The AWS SDK v2 bundle and analytics accelerator each hadoop-aws release was built against
# (hadoop-project's aws-java-sdk-v2.version and amazon-s3-analyticsaccelerator-s3.version).
HADOOP_AWS_DEPENDENCIES = {
    "3.4.2": {"software.amazon.awssdk:bundle": "2.29.52",
              "software.amazon.s3.analyticsaccelerator:analyticsaccelerator-s3": "1.2.1"},
}


def hadoop_version() -> str:
    """The Hadoop client inside the installed PySpark: hadoop-aws must be the same release."""
    import pyspark

    jars = Path(pyspark.__file__).parent / "jars"
    found = sorted(jars.glob("hadoop-client-api-*.jar"))
    if not found:
        raise FileNotFoundError(f"no hadoop-client-api jar in {jars}")
    return found[0].name.removeprefix("hadoop-client-api-").removesuffix(".jar")


def s3a_artifacts() -> list[str]:
    """hadoop-aws for the installed Hadoop client, and the AWS SDK it was built against."""
    hadoop = hadoop_version()
    if hadoop not in HADOOP_AWS_DEPENDENCIES:
        raise KeyError(f"Hadoop {hadoop}: add its AWS SDK versions to HADOOP_AWS_DEPENDENCIES in {__file__}")
    return [f"org.apache.hadoop:hadoop-aws:{hadoop}",
            *(f"{name}:{ver}" for name, ver in HADOOP_AWS_DEPENDENCIES[hadoop].items())]


# PostgreSQL's JDBC driver: the metastore database's (catalog: hive_metastore) and the one a feed's
# `source:` table is read with (jobs/collect).
METASTORE_JDBC_DRIVER = "org.postgresql:postgresql:42.7.14"
JDBC_DRIVERS = [METASTORE_JDBC_DRIVER]


# The OpenLineage listener (regulake.lineage.spark_conf): one shaded jar, for Spark 4's Scala 2.13.
OPENLINEAGE_SPARK = "io.openlineage:openlineage-spark_2.13:1.53.0"


def required_artifacts() -> list[str]:
    settings = load_settings()
    return list(dict.fromkeys(delta_artifacts() + JDBC_DRIVERS + [OPENLINEAGE_SPARK]
                              + list(settings.spark.get("extra_packages") or [])))


def jar_path(artifact: str) -> Path:
    """Where `make setup` (or `make setup-cluster`) put a fetched artifact; raises with the fix when missing."""
    _group, name, ver = artifact.split(":")
    path = JARS_DIR / f"{name}-{ver}.jar"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `make setup` (`make setup-cluster` for the cluster's "
                                f"jars) to fetch {artifact}")
    return path


def local_jar_paths() -> list[str]:
    """Paths of the fetched jars; raises with the fix when one is missing."""
    return [str(jar_path(artifact)) for artifact in required_artifacts()]


_RESOLVE = """
import sys
from pyspark.sql import SparkSession
builder = SparkSession.builder.master("local[1]").appName("regulake-resolve-jars")
for item in sys.argv[1:]:
    key, _, value = item.partition("=")
    builder = builder.config(key, value)
spark = builder.getOrCreate()
print(spark.sparkContext.getConf().get("spark.jars", ""))
spark.stop()
"""
# The Ivy settings that decide where `spark.jars.packages` come from and land.
_IVY_KEYS = ("spark.jars.packages", "spark.jars.ivy", "spark.jars.repositories", "spark.jars.ivySettings",
             "spark.jars.excludes")


def resolved_package_jars(conf: dict[str, str]) -> list[str]:
    """Local paths of `spark.jars.packages` as Spark's own Ivy resolves them (`jar_source: packages`).

    Resolved in a throwaway Spark process: the JVM of this one must start with them already on
    its classpath (the SQL endpoint's HiveServer2 threads only see the system classpath).
    """
    import subprocess

    args = [f"{key}={conf[key]}" for key in _IVY_KEYS if conf.get(key)]
    done = subprocess.run([sys.executable, "-c", _RESOLVE, *args], check=True, capture_output=True, text=True)
    lines = done.stdout.strip().splitlines()
    paths = [uri.removeprefix("file://").removeprefix("file:") for uri in (lines[-1] if lines else "").split(",") if uri]
    # Only the requested artifacts themselves (Ivy names them <group>_<artifact>-<version>.jar): their
    # transitive dependencies (an older Jackson, a second Hadoop client) ahead of Spark's own on the
    # system classpath would replace Spark's.
    wanted = {"{}_{}-{}.jar".format(*c.split(":")) for c in conf["spark.jars.packages"].split(",") if c}
    return [path for path in paths if Path(path).name in wanted]


if __name__ == "__main__":
    print("\n".join([*s3a_artifacts(), METASTORE_JDBC_DRIVER] if "--cluster" in sys.argv[1:] else required_artifacts()))
