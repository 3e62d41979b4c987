#!/usr/bin/env bash
# Installs (when missing) and runs obsync's private test services on 127.0.0.1:
#   - MariaDB with a ROW binlog, FULL row image and metadata, GTIDs and a replication user;
#   - a second MariaDB with a STATEMENT binlog (mariadb2), for the precheck's failure tests;
#   - seekdb (scripts/seekdb.sh), an OceanBase-kernel SQL server for the catalog tests;
#   - an Apache RocketMQ name server, broker and ACL broker (Java, pinned, from Maven Central).
# Usage: scripts/services.sh start|stop|status [mariadb|mariadb2|seekdb|namesrv|broker|aclbroker|syncbroker|limitbroker]...
#        scripts/services.sh mqadmin ARGS...   (Apache RocketMQ's admin tool, for creating topics)
# Idempotent: starting a running service does nothing; stop uses the recorded PIDs only, so
# services this script did not start (a system MariaDB on 3306, ...) are never touched.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

DIR="$OBSYNC_SERVICES_DIR"
MDB="$DIR/mariadb"
MDB2="$DIR/mariadb2"
# One directory per RocketMQ version (stores, logs, PIDs): a 4.9 broker does not read what 5.x
# wrote, and both can run at once on different ports (scripts/test.sh does).
RMQ="$DIR/rocketmq-$OBSYNC_ROCKETMQ_VERSION"
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

# ---------------------------------------------------------------- RocketMQ (Apache, Java)
# The broker users run: Apache RocketMQ's name server, broker and tools, resolved from Maven
# Central with their dependencies into the cache (one directory of jars per version, nothing else
# downloaded), run with small heaps on 127.0.0.1 ports of their own.
RMQ_LIB="$OBSYNC_CACHE_DIR/rocketmq-java/$OBSYNC_ROCKETMQ_VERSION/lib"
rmq_v4() { [[ "$OBSYNC_ROCKETMQ_VERSION" == 4.* ]]; }
# 4.9 brokers may register with a 5.x name server (RocketMQ upgrades name servers first; obsync's
# client needs a 5.x one, README "Apache RocketMQ versions"): their names differ from 5.x ones.
if rmq_v4; then RMQ_SUFFIX="-v4"; else RMQ_SUFFIX=""; fi
# The status listener that silences logback's start-up chatter (shaded in 5.x, plain in 4.9).
if rmq_v4; then RMQ_NOP_STATUS=ch.qos.logback.core.status.NopStatusListener
else RMQ_NOP_STATUS=org.apache.rocketmq.logging.ch.qos.logback.core.status.NopStatusListener; fi

# RocketMQ 4.9 reads its logging setup from $ROCKETMQ_HOME/conf/logback_{namesrv,broker,tools}.xml.
write_v4_logging() {
  local n
  mkdir -p "$RMQ/conf"
  for n in namesrv broker tools; do
    cat >"$RMQ/conf/logback_$n.xml" <<XML
<configuration>
  <appender name="FILE" class="ch.qos.logback.core.FileAppender">
    <file>\${user.home}/logs/$n.log</file>
    <encoder><pattern>%d{yyyy-MM-dd HH:mm:ss,SSS} %p %t - %m%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="FILE"/></root>
</configuration>
XML
  done
}

install_rocketmq() {
  [[ -f "$RMQ_LIB/.complete" ]] && return 0
  log "installing Apache RocketMQ $OBSYNC_ROCKETMQ_VERSION (name server, broker, tools) from Maven Central (once per machine, ~1 min)"
  ensure_java
  resolve_maven_jars "$RMQ_LIB" "$OBSYNC_ROCKETMQ_VERSION" \
    org.apache.rocketmq:rocketmq-namesrv org.apache.rocketmq:rocketmq-broker org.apache.rocketmq:rocketmq-tools
}

# rmq_java NAME HEAP CLASS ARGS...: runs a RocketMQ main class in the background, its logs under
# $RMQ/NAME-logs (RocketMQ writes them below user.home), its PID in $RMQ/NAME.pid; RMQ_JAVA_OPTS
# adds JVM options (system properties).
rmq_java() {
  local name=$1 heap=$2 class=$3; shift 3
  mkdir -p "$RMQ/$name-home"
  if rmq_v4; then write_v4_logging; fi
  # --add-opens: the store unmaps its files through java.nio internals (4.9 fails to reload an
  # existing store on Java 17 without it).
  ROCKETMQ_HOME="$RMQ" nohup java -server "-Xms$heap" "-Xmx$heap" -XX:+UseG1GC -XX:MaxDirectMemorySize=256m \
    --add-opens java.base/java.nio=ALL-UNNAMED --add-opens java.base/sun.nio.ch=ALL-UNNAMED \
    --add-opens java.base/java.lang=ALL-UNNAMED --add-exports java.base/jdk.internal.ref=ALL-UNNAMED \
    --add-opens java.base/jdk.internal.ref=ALL-UNNAMED -XX:-OmitStackTraceInFastThrow -Duser.home="$RMQ/$name-home" -Drocketmq.home.dir="$RMQ" \
    -Dlogback.statusListenerClass="$RMQ_NOP_STATUS" ${RMQ_JAVA_OPTS:-} \
    -cp "$RMQ_LIB/*" "$class" "$@" >"$RMQ/$name.log" 2>&1 &
  echo $! >"$RMQ/$name.pid"
}

# mqadmin ARGS...: Apache RocketMQ's own admin tool (the tools jar's MQAdminStartup), as a user runs it.
mqadmin() {
  install_rocketmq
  mkdir -p "$RMQ/mqadmin-home"
  if rmq_v4; then write_v4_logging; fi
  ROCKETMQ_HOME="$RMQ" java -Xmx128m -Duser.home="$RMQ/mqadmin-home" -Drocketmq.home.dir="$RMQ" \
    -Dlogback.statusListenerClass="$RMQ_NOP_STATUS" \
    -cp "$RMQ_LIB/*" org.apache.rocketmq.tools.command.MQAdminStartup "$@"
}

# broker_registered CLUSTER NAME: the name server lists broker NAME in CLUSTER.
broker_registered() { mqadmin clusterList -n "$OBSYNC_NAMESRV_ADDR" 2>/dev/null | grep -q "^$1 .* $2 "; }

start_namesrv() {
  if pid_alive "$RMQ/namesrv.pid"; then log "name server already running on $OBSYNC_NAMESRV_PORT"; return; fi
  port_free "name server" "$OBSYNC_NAMESRV_PORT"
  install_rocketmq
  mkdir -p "$RMQ/conf"
  printf 'listenPort=%s\nbindAddress=127.0.0.1\n' "$OBSYNC_NAMESRV_PORT" >"$RMQ/conf/namesrv.conf"
  log "starting the name server (Apache RocketMQ $OBSYNC_ROCKETMQ_VERSION) on $OBSYNC_NAMESRV_ADDR"
  rmq_java namesrv 256m org.apache.rocketmq.namesrv.NamesrvStartup -c "$RMQ/conf/namesrv.conf"
  wait_for "name server on $OBSYNC_NAMESRV_ADDR" 120 port_open "$OBSYNC_NAMESRV_PORT" || { tail -20 "$RMQ/namesrv.log" >&2; die "name server did not start"; }
}

# launch_broker LABEL ID PORT CLUSTER NAME STORE [EXTRA_LINES]: writes a broker config and starts
# it; waits until the name server lists it. Commit log files of 128 MiB (not 1 GiB), ASYNC_MASTER
# (the default role) unless EXTRA_LINES say otherwise, and
# asynchronous flushing, as for a small test machine; topics are never created automatically.
launch_broker() {
  local label=$1 id=$2 port=$3 cluster=$4$RMQ_SUFFIX name=$5$RMQ_SUFFIX store=$6 extra=${7:-}
  if pid_alive "$RMQ/$id.pid"; then log "$label already running on $port"; return; fi
  port_free "$label" "$port"
  install_rocketmq
  mkdir -p "$RMQ/conf" "$store"
  cat >"$RMQ/conf/$id.conf" <<CONF
brokerClusterName=$cluster
brokerName=$name
brokerId=0
flushDiskType=ASYNC_FLUSH
namesrvAddr=$OBSYNC_NAMESRV_ADDR
brokerIP1=127.0.0.1
bindAddress=127.0.0.1
listenPort=$port
haListenPort=$((port + 1))
storePathRootDir=$store
storePathCommitLog=$store/commitlog
mappedFileSizeCommitLog=134217728
autoCreateTopicEnable=false
autoCreateSubscriptionGroup=true
traceTopicEnable=true
$extra
CONF
  log "starting $label (Apache RocketMQ $OBSYNC_ROCKETMQ_VERSION) on 127.0.0.1:$port"
  rmq_java "$id" 512m org.apache.rocketmq.broker.BrokerStartup -c "$RMQ/conf/$id.conf"
  wait_for "$label on 127.0.0.1:$port" 180 broker_registered "$cluster" "$name" \
    || { tail -20 "$RMQ/$id.log" >&2; die "$label did not start"; }
}

start_broker() {
  launch_broker broker broker "$OBSYNC_BROKER_PORT" DefaultCluster broker-a "$RMQ/store"
}

# The ACL broker: its own ports and store, authentication and authorization on, one super user
# from OBSYNC_ACL_ACCESS_KEY / OBSYNC_ACL_SECRET_KEY. RocketMQ 5: ACL 2.0 (as documented for
# remoting clients); 4.9: plain ACL (`aclEnable` and conf/plain_acl.yml).
start_aclbroker() {
  local acl
  if rmq_v4; then
    mkdir -p "$RMQ/conf"
    cat >"$RMQ/conf/plain_acl.yml" <<YML
globalWhiteRemoteAddresses: []
accounts:
  - accessKey: $OBSYNC_ACL_ACCESS_KEY
    secretKey: $OBSYNC_ACL_SECRET_KEY
    whiteRemoteAddress:
    admin: true
    defaultTopicPerm: PUB|SUB
    defaultGroupPerm: PUB|SUB
YML
    acl="aclEnable=true"
  else
    acl="authenticationEnabled=true
authenticationProvider=org.apache.rocketmq.auth.authentication.provider.DefaultAuthenticationProvider
authenticationMetadataProvider=org.apache.rocketmq.auth.authentication.provider.LocalAuthenticationMetadataProvider
authorizationEnabled=true
authorizationProvider=org.apache.rocketmq.auth.authorization.provider.DefaultAuthorizationProvider
authorizationMetadataProvider=org.apache.rocketmq.auth.authorization.provider.LocalAuthorizationMetadataProvider
authConfigPath=$RMQ/store-acl/auth
initAuthenticationUser={\"username\":\"$OBSYNC_ACL_ACCESS_KEY\",\"password\":\"$OBSYNC_ACL_SECRET_KEY\"}
innerClientAuthenticationCredentials={\"accessKey\":\"$OBSYNC_ACL_ACCESS_KEY\",\"secretKey\":\"$OBSYNC_ACL_SECRET_KEY\"}"
  fi
  launch_broker "ACL broker" broker-acl "$OBSYNC_ACL_BROKER_PORT" AclCluster broker-acl "$RMQ/store-acl" "$acl"
}

# A broker that never acknowledges a send as SEND_OK, set up the way users run brokers that must
# not lose a message (SYNC_MASTER) but without the replica it waits for: RocketMQ 5 answers
# FLUSH_SLAVE_TIMEOUT (inSyncReplicas=2, after slaveTimeout), 4.9 SLAVE_NOT_AVAILABLE; the
# message is stored either way. Started only by the test of non-OK send statuses.
start_syncbroker() {
  launch_broker "sync broker" broker-sync "$OBSYNC_SYNC_BROKER_PORT" SyncCluster broker-sync "$RMQ/store-sync" \
"brokerRole=SYNC_MASTER
inSyncReplicas=2
slaveTimeout=100"
}
stop_syncbroker() { stop_recorded "sync broker" "$RMQ/broker-sync.pid" BrokerStartup; }

# A broker for the tests of the broker's own limits (tests/tests/broker_limits.rs), started only
# by them. Its store is a private 512 MiB tmpfs: filling it past half makes the broker refuse
# writes the way it does on a full disk (its own check, `rocketmq.broker.diskSpaceWarningLevelRatio`,
# run every second once the broker is a minute old), emptying it lets writes in again; its
# `maxMessageSize` is changed at runtime with `mqadmin updateBrokerConfig`. Mounting needs root.
LIMIT_STORE="$RMQ/store-limit"
start_limitbroker() {
  mkdir -p "$LIMIT_STORE"
  if ! mountpoint -q "$LIMIT_STORE"; then
    mount -t tmpfs -o size=512m,mode=0700 obsync-limit "$LIMIT_STORE" \
      || die "the limit broker's store is a private tmpfs at $LIMIT_STORE: mounting it needs root"
  fi
  RMQ_JAVA_OPTS="-Drocketmq.broker.diskSpaceWarningLevelRatio=0.5" \
    launch_broker "limit broker" broker-limit "$OBSYNC_LIMIT_BROKER_PORT" LimitCluster broker-limit "$LIMIT_STORE" \
"mappedFileSizeCommitLog=33554432
cleanResourceInterval=1000
maxHashSlotNum=50000
maxIndexNum=200000"
}
stop_limitbroker() {
  stop_recorded "limit broker" "$RMQ/broker-limit.pid" BrokerStartup
  if mountpoint -q "$LIMIT_STORE"; then umount "$LIMIT_STORE"; fi
}

# seekdb: an OceanBase-kernel SQL front-end for the catalog tests (scripts/seekdb.sh).
start_seekdb() { "$OBSYNC_ROOT/scripts/seekdb.sh" start >/dev/null; }
stop_seekdb() { "$OBSYNC_ROOT/scripts/seekdb.sh" stop; }

stop_aclbroker() { stop_recorded "ACL broker" "$RMQ/broker-acl.pid" BrokerStartup; }
stop_namesrv() { stop_recorded "name server" "$RMQ/namesrv.pid" NamesrvStartup; }
stop_broker() { stop_recorded broker "$RMQ/broker.pid" BrokerStartup; }

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
[[ ${#components[@]} -gt 0 || "$cmd" == mqadmin ]] || components=(mariadb mariadb2 seekdb namesrv broker aclbroker)
case "$cmd" in
  start)
    for c in "${components[@]}"; do "start_$c"; done ;;
  stop)
    # Reverse order: the brokers before the name server.
    for (( i=${#components[@]}-1; i>=0; i-- )); do "stop_${components[$i]}"; done ;;
  status) status ;;
  mqadmin) mqadmin "${components[@]}" ;;
  *) echo "usage: $0 start|stop|status [mariadb|mariadb2|seekdb|namesrv|broker|aclbroker|syncbroker|limitbroker]... | mqadmin ARGS..." >&2; exit 2 ;;
esac
