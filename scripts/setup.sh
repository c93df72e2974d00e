#!/usr/bin/env bash
# Idempotent setup: a second run only compares stamps and returns.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
JARS=.jars
STATE=.state
mkdir -p "$STATE"

say() { printf '[setup] %s\n' "$*"; }

# --- Java -----------------------------------------------------------------
if ! command -v java >/dev/null 2>&1; then
  say "Java not found: Spark needs a JDK 17 or 21 (apt-get install openjdk-17-jdk-headless)." >&2
  exit 1
fi
java_major=$(java -version 2>&1 | awk -F'"' '/version/ {split($2, v, "."); print v[1]}')
case "$java_major" in
  17|21) ;;
  *) say "Java $java_major found; Spark 4.1 needs Java 17 or 21." >&2; exit 1 ;;
esac

# --- Chromium and a CJK font (the run report: rendered in tests/jobs/publish, read by people) ---
# Debian's packages; never a browser download. Needs root (or install them by hand).
# Without a CJK font Chromium draws the report's Chinese labels as boxes.
REPORT_PACKAGES=(chromium fonts-wqy-zenhei)
if [ ! -x /usr/bin/chromium ] || [ -z "$(fc-list :lang=zh 2>/dev/null)" ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    say "installing ${REPORT_PACKAGES[*]} (Debian packages) for the run report"
    # A mirror outage must not stop the rest of setup: only the report tests need these.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${REPORT_PACKAGES[@]}" >/dev/null \
      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${REPORT_PACKAGES[@]}" >/dev/null; } \
      || say "could not install ${REPORT_PACKAGES[*]}: tests/jobs/publish will fail until they are installed" >&2
  else
    say "${REPORT_PACKAGES[*]} not found and cannot be installed here: tests/jobs/publish will fail (apt-get install ${REPORT_PACKAGES[*]})" >&2
  fi
fi

# --- Python environment ---------------------------------------------------
PY=${PYTHON:-python3}
if [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV with $($PY --version)"
  "$PY" -m venv "$VENV"
fi
if [ ! -x "$VENV/bin/uv" ]; then
  "$VENV/bin/pip" install -q --disable-pip-version-check uv
fi
# requirements.lock: production + the dev group (pytest, ruff, sqlfluff, pyhive), what
# `make test` and CI need. REGULAKE_LOCK=requirements-prod.lock (the Docker image): the
# same pins without the dev group.
LOCK=${REGULAKE_LOCK:-requirements.lock}
lock_stamp="$(sha256sum "$LOCK" pyproject.toml | sha256sum | cut -c1-16)"
if [ "$(cat "$STATE/python.stamp" 2>/dev/null)" != "$lock_stamp" ]; then
  say "installing the Python stack from $LOCK"
  "$VENV/bin/uv" pip sync -q -p "$VENV/bin/python" "$LOCK"
  "$VENV/bin/uv" pip install -q -p "$VENV/bin/python" --no-deps -e .
  echo "$lock_stamp" > "$STATE/python.stamp"
fi

# --- JVM jars (Delta for the pinned Spark) from Maven Central -------------
mapfile -t artifacts < <("$VENV/bin/python" -m regulake.jars)
mkdir -p "$JARS"
for artifact in "${artifacts[@]}"; do
  IFS=: read -r group name version <<<"$artifact"
  if [ ! -s "$JARS/$name-$version.jar" ]; then
    say "fetching $artifact"
    mvn -q -B dependency:copy -Dartifact="$artifact" -DoutputDirectory="$JARS" \
      -Dmdep.overWriteIfNewer=true -Dstyle.color=never >/dev/null
  fi
done
# --- The SQL endpoint's guard (apps/jvm: login, roles, read-only, query log), built with javac ---
# against the installed PySpark's own jars, so it always matches the Spark it runs in.
ENDPOINT_JAR="$JARS/regulake-endpoint.jar"
guard_stamp="$( (cat apps/jvm/io/regulake/endpoint/*.java; "$VENV/bin/python" -c 'import pyspark; print(pyspark.__version__)') | sha256sum | cut -c1-16)"
if [ ! -s "$ENDPOINT_JAR" ] || [ "$(cat "$STATE/endpoint.stamp" 2>/dev/null)" != "$guard_stamp" ]; then
  say "building $ENDPOINT_JAR"
  spark_jars="$("$VENV/bin/python" -c 'import pyspark, os; print(os.path.join(os.path.dirname(pyspark.__file__), "jars"))')"
  classes="$(mktemp -d)"
  javac -nowarn --release 17 -cp "$spark_jars/*" -d "$classes" apps/jvm/io/regulake/endpoint/*.java
  jar --create --file "$ENDPOINT_JAR" -C "$classes" .
  rm -rf "$classes"
  echo "$guard_stamp" > "$STATE/endpoint.stamp"
fi
say "ready: $("$VENV/bin/python" -c 'import pyspark, delta; print("pyspark", pyspark.__version__)'), jars in $JARS/"
