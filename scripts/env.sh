# shellcheck shell=bash
# Shared settings for obsync's scripts: ports, directories and versions of the private services.
# Every value can be overridden from the environment. Sourced, not executed.

OBSYNC_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export OBSYNC_ROOT

# Where the private services keep their data, logs and PID files (recreated as needed). Outside
# the checkout, so every clone on a machine finds (and reuses) the same running services.
export OBSYNC_SERVICES_DIR="${OBSYNC_SERVICES_DIR:-$HOME/.local/share/obsync/services}"
# Where installed tools are cached between runs on the same machine.
export OBSYNC_CACHE_DIR="${OBSYNC_CACHE_DIR:-$HOME/.cache/obsync}"

# Private MariaDB (never the system one on 3306).
export OBSYNC_MYSQL_HOST=127.0.0.1
export OBSYNC_MYSQL_PORT="${OBSYNC_MYSQL_PORT:-13306}"
export OBSYNC_MYSQL_ADMIN_USER="${OBSYNC_MYSQL_ADMIN_USER:-obsync_admin}"
export OBSYNC_MYSQL_ADMIN_PASSWORD="${OBSYNC_MYSQL_ADMIN_PASSWORD:-obsync_admin}"
export OBSYNC_MYSQL_REPL_USER="${OBSYNC_MYSQL_REPL_USER:-obsync}"
export OBSYNC_MYSQL_REPL_PASSWORD="${OBSYNC_MYSQL_REPL_PASSWORD:-obsync}"
# A second private MariaDB with a STATEMENT binlog (same users), for the precheck's failure tests.
export OBSYNC_MYSQL2_PORT="${OBSYNC_MYSQL2_PORT:-13307}"
# seekdb (OceanBase-kernel SQL server, no binlog; scripts/seekdb.sh): TCP relay to its socket.
export OBSYNC_SEEKDB_PORT="${OBSYNC_SEEKDB_PORT:-12881}"

# Private Apache RocketMQ name server and brokers (the Java broker users run, pinned; from Maven
# Central). OBSYNC_ROCKETMQ_VERSION=4.9.8 runs the same scripts and tests on the 4.9 generation.
export OBSYNC_ROCKETMQ_VERSION="${OBSYNC_ROCKETMQ_VERSION:-5.3.3}"
export OBSYNC_NAMESRV_PORT="${OBSYNC_NAMESRV_PORT:-19876}"
export OBSYNC_BROKER_PORT="${OBSYNC_BROKER_PORT:-20911}"        # fast port = this - 2, HA = this + 1
# The 4.9 generation (many OMS-era clusters): scripts/test.sh runs the broker-facing tests on its
# brokers too, on these ports (4.9.8 is not on Maven Central).
export OBSYNC_ROCKETMQ_V4="${OBSYNC_ROCKETMQ_V4:-4.9.7}"
export OBSYNC_V4_BROKER_PORT="${OBSYNC_V4_BROKER_PORT:-21011}"
export OBSYNC_V4_ACL_BROKER_PORT="${OBSYNC_V4_ACL_BROKER_PORT:-21021}"
export OBSYNC_V4_SYNC_BROKER_PORT="${OBSYNC_V4_SYNC_BROKER_PORT:-21031}"
export OBSYNC_V4_LIMIT_BROKER_PORT="${OBSYNC_V4_LIMIT_BROKER_PORT:-21041}"
# A second broker with ACL on (one super user), for the tests of ACL keys.
export OBSYNC_ACL_BROKER_PORT="${OBSYNC_ACL_BROKER_PORT:-20921}"
# A broker that answers every send with a status other than SEND_OK (SYNC_MASTER, no replica).
export OBSYNC_SYNC_BROKER_PORT="${OBSYNC_SYNC_BROKER_PORT:-20931}"
# A broker whose store is on a small private tmpfs, for the tests of the broker's own limits
# (message size, a full disk).
export OBSYNC_LIMIT_BROKER_PORT="${OBSYNC_LIMIT_BROKER_PORT:-20941}"
export OBSYNC_ACL_ACCESS_KEY="${OBSYNC_ACL_ACCESS_KEY:-obsync_ak}"
export OBSYNC_ACL_SECRET_KEY="${OBSYNC_ACL_SECRET_KEY:-obsync_sk}"
export OBSYNC_NAMESRV_ADDR="127.0.0.1:$OBSYNC_NAMESRV_PORT"
export OBSYNC_BROKER_ADDR="127.0.0.1:$OBSYNC_BROKER_PORT"

# Maven's local repository for everything obsync resolves (RocketMQ, the Java test client).
export OBSYNC_MAVEN_REPO="${OBSYNC_MAVEN_REPO:-$OBSYNC_CACHE_DIR/m2}"
# The Java test client (tests/java): RocketMQ's own Java client as a user's consumer.
# Its client version is its own (pom.xml, 5.x): it reads 4.9 brokers as well.
export OBSYNC_JAVA_CLIENT_DIR="$OBSYNC_ROOT/tests/java/target"

# Makes sure Java 17+ and Maven are there (Debian's packages when they are not).
ensure_java() {
  command -v java >/dev/null 2>&1 && command -v mvn >/dev/null 2>&1 && return 0
  echo "[env] installing openjdk-17-jdk-headless and maven (apt-get)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq openjdk-17-jdk-headless maven >/dev/null
}

# resolve_maven_jars DIR VERSION GROUP:ARTIFACT...: copies the artifacts at VERSION and all their
# runtime dependencies into DIR with Maven (from Maven Central, cached in OBSYNC_MAVEN_REPO).
resolve_maven_jars() {
  local dir=$1 version=$2; shift 2
  local work deps="" a
  work="$(mktemp -d)"
  for a in "$@"; do
    deps+="<dependency><groupId>${a%%:*}</groupId><artifactId>${a##*:}</artifactId><version>$version</version></dependency>"
  done
  cat >"$work/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
<groupId>io.obsync</groupId><artifactId>resolve</artifactId><version>1</version>
<dependencies>$deps</dependencies></project>
POM
  rm -rf "$dir"
  mkdir -p "$dir"
  (cd "$work" && mvn -q -B -Dmaven.repo.local="$OBSYNC_MAVEN_REPO" \
      org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$dir") >"$work/mvn.log" 2>&1 \
    || { tail -30 "$work/mvn.log" >&2; rm -rf "$work"; echo "[env] error: resolving $* $version with Maven failed" >&2; return 1; }
  rm -rf "$work"
  touch "$dir/.complete"
}

# Builds the Java test client (tests/java) when its sources changed since the last build.
ensure_java_client() {
  ensure_java
  local stamp="$OBSYNC_JAVA_CLIENT_DIR/.built" src
  src="$(cd "$OBSYNC_ROOT/tests/java" && find pom.xml src -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)"
  [[ -f "$stamp" && "$(cat "$stamp")" == "$src" ]] && return 0
  echo "[env] building the Java test client (tests/java: Apache RocketMQ's Java client) with Maven" >&2
  (cd "$OBSYNC_ROOT/tests/java" && mvn -q -B -Dmaven.repo.local="$OBSYNC_MAVEN_REPO" clean package) >&2 || return 1
  echo "$src" >"$stamp"
}

# java_client ARGS...: runs the Java test client (tests/java/.../Main.java lists its commands).
java_client() {
  local home="$OBSYNC_SERVICES_DIR/java-client"
  mkdir -p "$home"
  java -Xmx256m -XX:TieredStopAtLevel=1 -Duser.home="$home" \
    -Dlogback.statusListenerClass=org.apache.rocketmq.logging.ch.qos.logback.core.status.NopStatusListener \
    -cp "$OBSYNC_JAVA_CLIENT_DIR/obsync-java-client.jar:$OBSYNC_JAVA_CLIENT_DIR/lib/*" io.obsync.testclient.Main "$@"
}

# Makes sure the pinned toolchain has the wasm32 target (rustup installs targets listed in
# rust-toolchain.toml with a new toolchain, but not always into one that is already installed).
ensure_toolchain() {
  command -v rustup >/dev/null 2>&1 || return 0
  local tc
  tc="$(sed -n 's/^channel *= *"\(.*\)"/\1/p' "$OBSYNC_ROOT/rust-toolchain.toml")"
  if ! rustup target list --installed --toolchain "$tc" 2>/dev/null | grep -q '^wasm32-unknown-unknown$'; then
    rustup toolchain install "$tc" --profile minimal --component rustfmt,clippy --target wasm32-unknown-unknown
  fi
}

# Installs Debian's Chromium and a CJK font for the status page test (headless; the screenshot
# shows CJK table names), once per machine.
ensure_chromium() {
  command -v chromium >/dev/null 2>&1 && [[ -d /usr/share/fonts/truetype/wqy ]] && return 0
  echo "[env] installing chromium and fonts-wqy-zenhei (apt-get) for the status page test" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq chromium fonts-wqy-zenhei >/dev/null
}

# stop_recorded NAME PIDFILE [PATTERN]: stops the process PIDFILE records, and only while its
# command line contains PATTERN when one is given (a reused PID is never hit): TERM, then KILL
# after 60 s; removes PIDFILE. Says so with the calling script's `log`.
stop_recorded() {
  local name="$1" pidfile="$2" pattern="${3:-}" pid
  pid="$(cat "$pidfile" 2>/dev/null)" || pid=""
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null &&
    { [[ -z "$pattern" ]] || [[ "$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline")" == *"$pattern"* ]]; }; then
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 60))
    while kill -0 "$pid" 2>/dev/null; do
      if ((SECONDS >= deadline)); then kill -KILL "$pid" 2>/dev/null || true; fi
      sleep 0.1
    done
    log "$name stopped"
  fi
  rm -f "$pidfile"
}
