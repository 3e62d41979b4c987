#!/usr/bin/env bash
# Installs (when missing) and runs a private seekdb: the OceanBase-kernel SQL server shipped in
# the PyPI package pylibseekdb, for tests of obsync's SQL side against a real OceanBase front-end
# (information_schema, SHOW CREATE TABLE, ...). seekdb has no binlog: it cannot feed the reader.
# Usage: scripts/seekdb.sh start|stop|status
#   start   prints the Unix socket path on stdout (log lines go to stderr) and writes it to
#           $OBSYNC_SERVICES_DIR/seekdb/socket.path; user root, empty password.
#           Also forwards 127.0.0.1:$OBSYNC_SEEKDB_PORT (default 12881; 0 = off) to that socket,
#           for clients that speak TCP only (the agent's SourceOptions::connect).
#   status  exit 0 when running, 3 when stopped.
# seekdb runs in its own network namespace (root: unshare -n; others: unshare -rn) with an
# unconnected veth pair: it aborts without a non-loopback IPv4 address, and the namespace keeps
# its own TCP listener (0.0.0.0:2881) and its telemetry off the machine's network. Its Unix socket
# <base>/run/sql.sock is a file, so clients outside the namespace reach it. Idempotent: starting
# a running seekdb does nothing; stop uses the recorded PIDs only.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

VERSION="${OBSYNC_SEEKDB_VERSION:-1.4.0.post1}"
PORT="${OBSYNC_SEEKDB_PORT:-12881}"
PKG="$OBSYNC_CACHE_DIR/seekdb/$VERSION"        # pip install --target (seekdb binary + PyMySQL)
BIN="$PKG/pylibseekdb/seekdb"
SDB="$OBSYNC_SERVICES_DIR/seekdb"
BASE="$SDB/base"                                # seekdb's etc/ log/ run/ store/
SOCK="$BASE/run/sql.sock"

log() { printf '[seekdb] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# alive NAME [PATTERN]: the PID in $SDB/NAME.pid is live and its command line still contains
# PATTERN (default NAME): a recycled PID is not taken for ours.
alive() {
  local pid; pid="$(cat "$SDB/$1.pid" 2>/dev/null)" || return 1
  [[ "$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline")" == *"${2:-$1}"* ]]
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

apt_install() {
  log "installing $* (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq "$@" >/dev/null
}

install_seekdb() {
  [[ -x "$BIN" ]] && return 0
  command -v ip >/dev/null 2>&1 || apt_install iproute2
  { command -v python3 && python3 -m pip --version; } >/dev/null 2>&1 || apt_install python3 python3-pip
  log "installing pylibseekdb $VERSION (pip, ~54 MB) into $PKG"
  local tmp="$PKG.tmp.$$"
  rm -rf "$tmp"
  PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --no-input --disable-pip-version-check \
    --target "$tmp" "pylibseekdb==$VERSION" || { rm -rf "$tmp"; die "pip install pylibseekdb==$VERSION failed"; }
  rm -rf "$PKG" && mv "$tmp" "$PKG"   # all or nothing: a half install is never taken for a good one
  [[ -x "$BIN" ]] || die "$BIN missing from the pylibseekdb wheel"
}

# Ready = the server answers over the socket and reports its service started.
ready() {
  PYTHONPATH="$PKG" python3 - "$SOCK" <<'PY' 2>/dev/null
import sys, pymysql
c = pymysql.connect(unix_socket=sys.argv[1], user="root", password="", connect_timeout=2, read_timeout=5)
with c.cursor() as cur:
    cur.execute("SELECT 1 FROM oceanbase.V$OB_SERVER_STAT WHERE START_SERVICE_TIME > 0")
    sys.exit(0 if cur.fetchall() else 1)
PY
}

start_server() {
  if alive seekdb "--base-dir=$BASE"; then log "already running (pid $(cat "$SDB/seekdb.pid"))"; return; fi
  # seekdb binds run/sql.sock relative to its base dir; clients need the full path (< 108 bytes).
  (( ${#SOCK} < 108 )) || die "socket path $SOCK is too long for clients: set OBSYNC_SERVICES_DIR shorter"
  install_seekdb
  mkdir -p "$BASE"
  local un=(unshare -n); (( EUID == 0 )) || un=(unshare -rn)
  # Inside the namespace: lo up, an unconnected veth with 127.0.0.2/32, then exec seekdb (so the
  # recorded PID is the server's). The memory/log-disk parameters only count on the first start;
  # --log-level WARN because at INFO it logs ~10 MB a minute while idle.
  setsid "${un[@]}" bash -c '
    set -e; ip link set lo up; ip link add v0 type veth peer name v1
    ip addr add 127.0.0.2/32 dev v0; echo $$ >"$1"
    exec "$2" --base-dir="$3" --nodaemon --log-level WARN \
      --parameter memory_budget=1G --parameter log_disk_size=2G' \
    seekdb-netns "$SDB/seekdb.pid" "$BIN" "$BASE" </dev/null >"$SDB/stdout.log" 2>&1 9>&- &
  local launcher=$! deadline=$((SECONDS + 120))
  until ready; do
    if ! kill -0 "$launcher" 2>/dev/null; then
      tail -n 20 "$SDB/stdout.log" "$BASE/log/seekdb.log" >&2 2>/dev/null || true
      die "seekdb exited during start-up (data in $BASE: remove it to bootstrap anew)"
    fi
    (( SECONDS < deadline )) || { tail -n 20 "$SDB/stdout.log" >&2; die "seekdb not ready after 120 s"; }
    sleep 0.2
  done
  log "ready (pid $(cat "$SDB/seekdb.pid"), socket $SOCK)"
}

# A TCP front for the socket, outside the namespace: 127.0.0.1:PORT -> sql.sock.
start_bridge() {
  [[ "$PORT" != 0 ]] || return 0
  if alive bridge obsync-seekdb-bridge; then return; fi
  port_open "$PORT" && die "port $PORT is in use by a process this script did not start; set OBSYNC_SEEKDB_PORT"
  setsid python3 -c '
import asyncio, sys
async def pipe(r, w):
    try:
        while data := await r.read(65536):
            w.write(data)
            await w.drain()
    except OSError:
        pass
    finally:
        w.close()
async def handle(cr, cw):
    try:
        sr, sw = await asyncio.open_unix_connection(sys.argv[2])
    except OSError:
        cw.close()
        return
    await asyncio.gather(pipe(cr, sw), pipe(sr, cw))
async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[3]))
    await server.serve_forever()
asyncio.run(main())' obsync-seekdb-bridge "$SOCK" "$PORT" </dev/null >"$SDB/bridge.log" 2>&1 9>&- &
  echo $! >"$SDB/bridge.pid"
  local deadline=$((SECONDS + 20))
  until port_open "$PORT"; do
    kill -0 "$(cat "$SDB/bridge.pid")" 2>/dev/null || { cat "$SDB/bridge.log" >&2; die "TCP bridge exited"; }
    (( SECONDS < deadline )) || die "TCP bridge not listening after 20 s"
    sleep 0.1
  done
  log "TCP bridge 127.0.0.1:$PORT -> socket (pid $(cat "$SDB/bridge.pid"))"
}

start() {
  mkdir -p "$SDB"
  exec 9>"$SDB/start.lock"; flock 9     # concurrent starts: one launches, the others wait
  start_server
  start_bridge
  echo "$SOCK" >"$SDB/socket.path"
  echo "$SOCK"
}

# stop_pid NAME [PATTERN]: the recorded process only, while its command line has PATTERN
# (default NAME); see stop_recorded in env.sh.
stop_pid() { stop_recorded "$1" "$SDB/$1.pid" "${2:-$1}"; }

stop() {
  stop_pid bridge obsync-seekdb-bridge
  stop_pid seekdb "--base-dir=$BASE"      # its network namespace and veth pair go with it
  rm -f "$SOCK"
}

status() {
  if alive seekdb "--base-dir=$BASE"; then
    local pid; pid="$(cat "$SDB/seekdb.pid")"
    echo "seekdb running (pid $pid, rss $(awk '/^VmRSS/ {print $2 " " $3}' "/proc/$pid/status"), socket $SOCK)"
    if alive bridge obsync-seekdb-bridge; then echo "bridge running (pid $(cat "$SDB/bridge.pid"), 127.0.0.1:$PORT)"; fi
  else
    echo "seekdb stopped"; return 3
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
