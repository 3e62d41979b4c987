#!/usr/bin/env bash
# Installs (when missing) and runs obsync's private test services on 127.0.0.1:
#   - MariaDB with a ROW binlog, FULL row image and metadata, GTIDs and a replication user;
#   - a second MariaDB with a STATEMENT binlog (mariadb2), for the precheck's failure tests;
#   - a RocketMQ name server and broker (the Rust implementation, pinned, built once and cached).
# Usage: scripts/services.sh start|stop|status [mariadb|mariadb2|namesrv|broker|aclbroker]...
# Idempotent: starting a running service does nothing; stop uses the recorded PIDs only, so
# services this script did not start (a system MariaDB on 3306, ...) are never touched.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

DIR="$OBSYNC_SERVICES_DIR"
MDB="$DIR/mariadb"
MDB2="$DIR/mariadb2"
RMQ="$DIR/rocketmq"
RMQ_BIN="$OBSYNC_CACHE_DIR/rocketmq/$OBSYNC_ROCKETMQ_VERSION/bin"

log() { printf '[services] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

pid_alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_for DESCRIPTION TIMEOUT_SECONDS COMMAND... : polls COMMAND every 0.1 s until it succeeds.
wait_for() {
  local what="$1" timeout="$2"; shift 2
  local deadline=$((SECONDS + timeout))
  until "$@"; do
    (( SECONDS < deadline )) || return 1
    sleep 0.1
  done
  log "$what ready"
}

# stop_pid NAME PIDFILE: see stop_recorded in env.sh.
stop_pid() { stop_recorded "$1" "$2"; }

# ---------------------------------------------------------------- MariaDB
install_mariadb() {
  command -v mariadbd >/dev/null 2>&1 || [[ -x /usr/sbin/mariadbd ]] && return 0
  log "installing mariadb-server (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq mariadb-server mariadb-client >/dev/null
}

mariadbd_bin() { command -v mariadbd 2>/dev/null || echo /usr/sbin/mariadbd; }

# mdb_client DIR ARGS...: the root client of the instance in DIR.
mdb_client() { local d="$1"; shift; mariadb --no-defaults --socket="$d/mariadb.sock" -uroot --default-character-set=utf8mb4 "$@"; }

mdb_ping() { mariadb-admin --no-defaults --socket="$1/mariadb.sock" -uroot ping >/dev/null 2>&1; }

# port_free NAME PORT: fails with a clear message when something else listens on PORT.
port_free() {
  if port_open "$2"; then
    die "port $2 for $1 is in use by a process this script did not start; stop it or set another port (see scripts/env.sh)"
  fi
}

# start_mdb NAME DIR PORT SERVER_ID BINLOG_SETTINGS: a private MariaDB in DIR with the test users.
start_mdb() {
  local name="$1" d="$2" port="$3" server_id="$4" binlog="$5"
  if pid_alive "$d/mariadbd.pid"; then log "$name already running on $port"; return; fi
  port_free "$name" "$port"
  install_mariadb
  mkdir -p "$d"
  cat >"$d/my.cnf" <<CNF
[mariadbd]
datadir=$d/data
socket=$d/mariadb.sock
pid-file=$d/mariadbd.pid
log-error=$d/error.log
bind-address=127.0.0.1
port=$port
user=root
skip-name-resolve
server-id=$server_id
log-bin=$d/data/mdb-bin
$binlog
binlog_checksum=CRC32
gtid_domain_id=0
gtid_strict_mode=1
log_slave_updates=1
character-set-server=utf8mb4
collation-server=utf8mb4_unicode_ci
innodb_buffer_pool_size=128M
innodb_log_file_size=48M
max_allowed_packet=256M
max_binlog_size=256M
max_connections=500
CNF
  local fresh=0
  if [[ ! -d "$d/data/mysql" ]]; then
    fresh=1
    mariadb-install-db --defaults-file="$d/my.cnf" --auth-root-authentication-method=normal \
      --skip-test-db >"$d/install.log" 2>&1 || { cat "$d/install.log" >&2; die "mariadb-install-db failed"; }
  fi
  "$(mariadbd_bin)" --defaults-file="$d/my.cnf" >"$d/stdout.log" 2>&1 &
  wait_for "$name on 127.0.0.1:$port" 60 mdb_ping "$d" || { tail -20 "$d/error.log" >&2; die "$name did not start"; }
  if (( fresh )); then
    mdb_client "$d" -e "
      CREATE USER '$OBSYNC_MYSQL_REPL_USER'@'127.0.0.1' IDENTIFIED BY '$OBSYNC_MYSQL_REPL_PASSWORD';
      GRANT REPLICATION SLAVE, BINLOG MONITOR, SELECT ON *.* TO '$OBSYNC_MYSQL_REPL_USER'@'127.0.0.1';
      CREATE USER '$OBSYNC_MYSQL_ADMIN_USER'@'127.0.0.1' IDENTIFIED BY '$OBSYNC_MYSQL_ADMIN_PASSWORD';
      GRANT ALL PRIVILEGES ON *.* TO '$OBSYNC_MYSQL_ADMIN_USER'@'127.0.0.1' WITH GRANT OPTION;"
  fi
  # Lets obsync check list the replicas (SHOW SLAVE HOSTS) to find a server id in use; granted on
  # every start so older data directories get it too.
  mdb_client "$d" -e "GRANT REPLICATION MASTER ADMIN ON *.* TO '$OBSYNC_MYSQL_REPL_USER'@'127.0.0.1';"
}

# The source of the tests: ROW binlog, FULL row image and metadata.
start_mariadb() {
  start_mdb mariadb "$MDB" "$OBSYNC_MYSQL_PORT" 1 "binlog_format=ROW
binlog_row_image=FULL
binlog_row_metadata=FULL"
}

# A second source set up the wrong way for CDC (STATEMENT binlog, MINIMAL row image and
# metadata), for the precheck's failure tests; a session that sets binlog_format=ROW writes row
# events without column names there, like the OceanBase binlog service.
start_mariadb2() {
  start_mdb mariadb2 "$MDB2" "$OBSYNC_MYSQL2_PORT" 2 "binlog_format=STATEMENT
binlog_row_image=MINIMAL
binlog_row_metadata=MINIMAL"
}

stop_mariadb2() { stop_pid mariadb2 "$MDB2/mariadbd.pid"; }
stop_mariadb() { stop_pid mariadb "$MDB/mariadbd.pid"; }

# ---------------------------------------------------------------- RocketMQ
install_rocketmq() {
  if [[ -x "$RMQ_BIN/rocketmq-namesrv-rust" && -x "$RMQ_BIN/rocketmq-broker-rust" ]]; then return; fi
  log "building rocketmq-namesrv and rocketmq-broker $OBSYNC_ROCKETMQ_VERSION (once per machine, ~10 min on 2 cores)"
  local root="$OBSYNC_CACHE_DIR/rocketmq/$OBSYNC_ROCKETMQ_VERSION"
  mkdir -p "$root"
  # Built outside the workspace so its rust-toolchain.toml and target dir are not involved.
  (cd "$OBSYNC_CACHE_DIR" && CARGO_TARGET_DIR="$OBSYNC_CACHE_DIR/rocketmq/target" \
    cargo +1.95.0 install --quiet --locked --root "$root" \
      "rocketmq-namesrv@$OBSYNC_ROCKETMQ_VERSION" "rocketmq-broker@$OBSYNC_ROCKETMQ_VERSION")
  rm -rf "$OBSYNC_CACHE_DIR/rocketmq/target"
}

write_rocketmq_config() {
  mkdir -p "$RMQ/conf" "$RMQ/namesrv" "$RMQ/store"
  cat >"$RMQ/conf/namesrv.toml" <<CONF
rocketmqHome = "$RMQ"
kvConfigPath = "$RMQ/namesrv/kvConfig.json"
configStorePath = "$RMQ/namesrv/rocketmq-namesrv.properties"
[runtime]
workerThreads = 2
CONF
}

# write_broker_config FILE PORT STORE NAME CLUSTER COMMITLOG_BYTES HASH_SLOTS INDEX_NUM [EXTRA_BROKER_KEYS]:
# one broker's config (an existing store keeps working only with the file sizes it was made with).
write_broker_config() {
  local file=$1 port=$2 store=$3 name=$4 cluster=$5 commitlog=$6 slots=$7 index=$8 extra=${9:-}
  mkdir -p "$RMQ/conf" "$store"
  cat >"$file" <<CONF
[broker]
namesrvAddr = "$OBSYNC_NAMESRV_ADDR"
brokerIp1 = "127.0.0.1"
listenPort = $port
storePathRootDir = "$store"
autoCreateTopicEnable = false
$extra

[broker.brokerServerConfig]
bindAddress = "127.0.0.1"

[broker.brokerIdentity]
brokerName = "$name"
brokerClusterName = "$cluster"
brokerId = 0

[broker.topicQueueConfig]
defaultTopicQueueNums = 8

[store]
storeType = "LocalFile"
brokerRole = "ASYNC_MASTER"
storePathRootDir = "$store"
haListenAddress = "127.0.0.1"
haListenPort = $((port + 1))
commitLogMicroBatchMaxWaitMicros = 0
mappedFileSizeCommitLog = $commitlog
maxHashSlotNum = $slots
maxIndexNum = $index
CONF
}

start_namesrv() {
  if pid_alive "$RMQ/namesrv.pid"; then log "name server already running on $OBSYNC_NAMESRV_PORT"; return; fi
  port_free "name server" "$OBSYNC_NAMESRV_PORT"
  install_rocketmq
  write_rocketmq_config
  "$RMQ_BIN/rocketmq-namesrv-rust" -c "$RMQ/conf/namesrv.toml" --bindAddress 127.0.0.1 \
    --listenPort "$OBSYNC_NAMESRV_PORT" >"$RMQ/namesrv.log" 2>&1 &
  echo $! >"$RMQ/namesrv.pid"
  wait_for "name server on $OBSYNC_NAMESRV_ADDR" 60 port_open "$OBSYNC_NAMESRV_PORT" || { tail -20 "$RMQ/namesrv.log" >&2; die "name server did not start"; }
}

# launch_broker LABEL ID PORT HEALTH_PORT CONF: starts one broker (pid and log named by ID) and
# waits until its health endpoint says ready.
launch_broker() {
  local label=$1 id=$2 port=$3 health=$4 conf=$5
  if pid_alive "$RMQ/$id.pid"; then log "$label already running on $port"; return; fi
  port_free "$label" "$port"
  install_rocketmq
  command -v curl >/dev/null 2>&1 || { export DEBIAN_FRONTEND=noninteractive; apt-get update -qq >/dev/null; apt-get install -y -qq curl >/dev/null; }
  ROCKETMQ_HOME="$RMQ" ROCKETMQ_HEALTH_BIND_ADDR="127.0.0.1:$health" \
    "$RMQ_BIN/rocketmq-broker-rust" -c "$conf" >"$RMQ/$id.log" 2>&1 &
  echo $! >"$RMQ/$id.pid"
  wait_for "$label on 127.0.0.1:$port" 120 curl -sf "http://127.0.0.1:$health/readyz" -o /dev/null \
    || { tail -20 "$RMQ/$id.log" >&2; die "$label did not start"; }
}

start_broker() {
  write_broker_config "$RMQ/conf/broker.toml" "$OBSYNC_BROKER_PORT" "$RMQ/store" broker-a DefaultCluster \
    134217728 500000 2000000
  launch_broker broker broker "$OBSYNC_BROKER_PORT" "$OBSYNC_BROKER_HEALTH_PORT" "$RMQ/conf/broker.toml"
}

# The ACL broker: its own ports and store, authentication and authorization on, one super user
# seeded from OBSYNC_ACL_ACCESS_KEY / OBSYNC_ACL_SECRET_KEY.
start_aclbroker() {
  write_broker_config "$RMQ/conf/broker-acl.toml" "$OBSYNC_ACL_BROKER_PORT" "$RMQ/store-acl" broker-acl AclCluster \
    67108864 50000 200000 \
"authenticationEnabled = true
authorizationEnabled = true
authConfigPath = \"$RMQ/store-acl/auth\"
initAuthenticationUser = \"$OBSYNC_ACL_ACCESS_KEY:$OBSYNC_ACL_SECRET_KEY\""
  launch_broker "ACL broker" broker-acl "$OBSYNC_ACL_BROKER_PORT" "$OBSYNC_ACL_BROKER_HEALTH_PORT" "$RMQ/conf/broker-acl.toml"
}

# seekdb: an OceanBase-kernel SQL front-end for the catalog tests (scripts/seekdb.sh).
start_seekdb() { "$OBSYNC_ROOT/scripts/seekdb.sh" start >/dev/null; }
stop_seekdb() { "$OBSYNC_ROOT/scripts/seekdb.sh" stop; }

stop_aclbroker() { stop_pid "ACL broker" "$RMQ/broker-acl.pid"; }
stop_namesrv() { stop_pid "name server" "$RMQ/namesrv.pid"; }
stop_broker() { stop_pid broker "$RMQ/broker.pid"; }

status() {
  local s
  for s in "mariadb:$MDB/mariadbd.pid:$OBSYNC_MYSQL_PORT" "mariadb2:$MDB2/mariadbd.pid:$OBSYNC_MYSQL2_PORT" "namesrv:$RMQ/namesrv.pid:$OBSYNC_NAMESRV_PORT" "broker:$RMQ/broker.pid:$OBSYNC_BROKER_PORT" "aclbroker:$RMQ/broker-acl.pid:$OBSYNC_ACL_BROKER_PORT"; do
    IFS=: read -r name pidfile port <<<"$s"
    if pid_alive "$pidfile"; then echo "$name running (pid $(cat "$pidfile"), 127.0.0.1:$port)"; else echo "$name stopped"; fi
  done
  if "$OBSYNC_ROOT/scripts/seekdb.sh" status >/dev/null 2>&1; then echo "seekdb running (127.0.0.1:$OBSYNC_SEEKDB_PORT)"; else echo "seekdb stopped"; fi
}

cmd="${1:-}"; shift || true
components=("$@")
[[ ${#components[@]} -gt 0 ]] || components=(mariadb mariadb2 seekdb namesrv broker aclbroker)
case "$cmd" in
  start)
    for c in "${components[@]}"; do "start_$c"; done ;;
  stop)
    # Reverse order: the brokers before the name server.
    for (( i=${#components[@]}-1; i>=0; i-- )); do "stop_${components[$i]}"; done ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status [mariadb|mariadb2|seekdb|namesrv|broker|aclbroker]..." >&2; exit 2 ;;
esac
