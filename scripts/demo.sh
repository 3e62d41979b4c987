#!/usr/bin/env bash
# The demo: installs and starts what it needs (one MariaDB, one Apache RocketMQ name server and
# broker), creates demo.orders and the topic demo_orders with RocketMQ's own mqadmin, runs obsync
# on examples/quickstart, changes some rows, and prints the messages as a Java consumer received
# them. Leaves the services running (scripts/services.sh stop stops them). On a terminal the agent
# keeps running until Ctrl-C so its status page can be looked at; otherwise (CI) it stops.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$OBSYNC_ROOT"

T0=$SECONDS
step() { printf '\n[demo %3ds] %s\n' "$((SECONDS - T0))" "$*"; }

RUN="$OBSYNC_ROOT/.run"
mkdir -p "$RUN"
DATA="$RUN/demo-data"
LOG="$RUN/demo-obsync.log"

step "checking the Rust toolchain (rust-toolchain.toml pins it, with the wasm32 target)"
ensure_toolchain

step "starting MariaDB, the RocketMQ name server and broker (installed on first use)"
scripts/services.sh start mariadb namesrv broker

step "building the Java consumer (Apache RocketMQ's client, tests/java; first time ~30 s)"
ensure_java_client

step "building obsync (first time ~3 min on 2 cores: the five format modules are compiled to WebAssembly)"
cargo build -p obsync
BIN="${CARGO_TARGET_DIR:-$OBSYNC_ROOT/target}/debug/obsync"

sql() { mariadb --no-defaults -h127.0.0.1 -P"$OBSYNC_MYSQL_PORT" -u"$OBSYNC_MYSQL_ADMIN_USER" \
          -p"$OBSYNC_MYSQL_ADMIN_PASSWORD" --default-character-set=utf8mb4 "$@"; }

TOPIC="demo_orders"
step "creating the table demo.orders and the topic $TOPIC (mqadmin updateTopic, 4 queues)"
sql -e "DROP DATABASE IF EXISTS demo; CREATE DATABASE demo;
        CREATE TABLE demo.orders (id BIGINT PRIMARY KEY, customer VARCHAR(64), amount DECIMAL(12,2),
                                  status ENUM('new','paid','shipped'), created DATETIME(3));"
# A topic from an earlier run is recreated, so the consumer below reads only this run's messages.
scripts/services.sh mqadmin deleteTopic -n "$OBSYNC_NAMESRV_ADDR" -c DefaultCluster -t "$TOPIC" >/dev/null 2>&1 || true
scripts/services.sh mqadmin updateTopic -n "$OBSYNC_NAMESRV_ADDR" -c DefaultCluster -t "$TOPIC" -r 4 -w 4 \
  | grep -v '^$' | tail -1

step "starting obsync on examples/quickstart (log: $LOG)"
rm -rf "$DATA"
export OBSYNC_QUICKSTART_PASSWORD="$OBSYNC_MYSQL_REPL_PASSWORD"
"$BIN" run --config-dir examples/quickstart --data-dir "$DATA" --listen 127.0.0.1:0 >"$LOG" 2>&1 &
AGENT=$!
trap 'kill -TERM $AGENT 2>/dev/null || true; wait $AGENT 2>/dev/null || true' EXIT
until grep -q 'streaming' "$LOG"; do
  kill -0 $AGENT 2>/dev/null || { cat "$LOG"; echo "obsync exited before streaming (log above)" >&2; exit 1; }
  sleep 0.1
done
URL="http://$(cat "$DATA/listen.addr" 2>/dev/null || echo 127.0.0.1:9187)"

step "changing rows in demo.orders: 2 inserts, 1 update, 1 delete"
sql demo -e "
  INSERT INTO orders VALUES (1, '张三', 99.90, 'new', NOW(3)), (2, 'Zoë', 15.00, 'new', NOW(3));
  UPDATE orders SET status = 'paid' WHERE id = 1;
  DELETE FROM orders WHERE id = 2;"

step "messages in $TOPIC, as a RocketMQ Java consumer received them"
OUT="$RUN/demo-messages.txt"
java_client show "$OBSYNC_NAMESRV_ADDR" "$TOPIC" 4 60000 | tee "$OUT"
grep -q '^4 message(s) received' "$OUT" || { echo "expected 4 messages (log: $LOG)" >&2; exit 1; }

step "first message after $((SECONDS - T0)) s. obsync status:"
"$BIN" status --data-dir "$DATA" || true

cat <<NEXT

Where to go next
  config file used    examples/quickstart/quickstart.toml (README.md: every field)
  project status      $BIN status --data-dir $DATA
  status page         $URL/   (while obsync runs)
  agent log           $LOG
  stop the services   scripts/services.sh stop
NEXT

if [[ -t 0 && -t 1 ]]; then
  echo
  echo "obsync keeps running so you can try the status page; change rows in demo.orders"
  echo "(mariadb -h127.0.0.1 -P$OBSYNC_MYSQL_PORT -u$OBSYNC_MYSQL_ADMIN_USER -p demo) and watch. Ctrl-C stops it."
  wait $AGENT || true
fi
