"""The JVM artifacts the embedded default needs, derived from the installed wheels.

`python -m regulake.jars` prints one Maven coordinate per line; `make setup`
fetches them into .jars/ with `mvn dependency:copy` (more robust here than
Ivy at session start).
"""

from __future__ import annotations

from importlib.metadata import version

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


def required_artifacts() -> list[str]:
    return delta_artifacts() + list(load_settings().spark.get("extra_packages") or [])


def local_jar_paths() -> list[str]:
    """Paths of the fetched jars; raises with the fix when one is missing."""
    paths = []
    for artifact in required_artifacts():
        _group, name, ver = artifact.split(":")
        path = JARS_DIR / f"{name}-{ver}.jar"
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: run `make setup` to fetch {artifact}")
        paths.append(str(path))
    return paths


if __name__ == "__main__":
    print("\n".join(required_artifacts()))
