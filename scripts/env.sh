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

# Private RocketMQ name server and broker (Rust implementation, pinned).
export OBSYNC_ROCKETMQ_VERSION="${OBSYNC_ROCKETMQ_VERSION:-1.0.0}"
export OBSYNC_NAMESRV_PORT="${OBSYNC_NAMESRV_PORT:-19876}"
export OBSYNC_BROKER_PORT="${OBSYNC_BROKER_PORT:-20911}"        # fast port = this - 2, HA = this + 1
export OBSYNC_BROKER_HEALTH_PORT="${OBSYNC_BROKER_HEALTH_PORT:-20958}"
# A second broker with ACL on (one super user), for the tests of ACL keys.
export OBSYNC_ACL_BROKER_PORT="${OBSYNC_ACL_BROKER_PORT:-20921}"
export OBSYNC_ACL_BROKER_HEALTH_PORT="${OBSYNC_ACL_BROKER_HEALTH_PORT:-20968}"
export OBSYNC_ACL_ACCESS_KEY="${OBSYNC_ACL_ACCESS_KEY:-obsync_ak}"
export OBSYNC_ACL_SECRET_KEY="${OBSYNC_ACL_SECRET_KEY:-obsync_sk}"
export OBSYNC_NAMESRV_ADDR="127.0.0.1:$OBSYNC_NAMESRV_PORT"
export OBSYNC_BROKER_ADDR="127.0.0.1:$OBSYNC_BROKER_PORT"

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
