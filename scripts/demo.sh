#!/usr/bin/env bash
# The demo: starts the private services, creates demo.orders and the topic demo_orders, runs
# obsync on examples/quickstart, makes some changes, and prints what a consumer received.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$OBSYNC_ROOT"
ensure_toolchain

scripts/services.sh start
cargo build --quiet -p obsync -p obsync-tests --bins
BIN="${CARGO_TARGET_DIR:-$OBSYNC_ROOT/target}/debug"

sql() { mariadb --no-defaults -h127.0.0.1 -P"$OBSYNC_MYSQL_PORT" -u"$OBSYNC_MYSQL_ADMIN_USER" \
          -p"$OBSYNC_MYSQL_ADMIN_PASSWORD" --default-character-set=utf8mb4 "$@"; }

TOPIC="demo_orders"
sql -e "DROP DATABASE IF EXISTS demo; CREATE DATABASE demo;
        CREATE TABLE demo.orders (id BIGINT PRIMARY KEY, customer VARCHAR(64), amount DECIMAL(12,2),
                                  status ENUM('new','paid','shipped'), created DATETIME(3));"
"$BIN/obsync-rmq" create-topic "$TOPIC" 4

DATA="$OBSYNC_ROOT/.run/demo-data"
rm -rf "$DATA"
export OBSYNC_QUICKSTART_PASSWORD="$OBSYNC_MYSQL_REPL_PASSWORD"
"$BIN/obsync" run --config-dir examples/quickstart --data-dir "$DATA" >"$OBSYNC_ROOT/.run/demo-obsync.log" 2>&1 &
AGENT=$!
trap 'kill -TERM $AGENT 2>/dev/null || true; wait $AGENT 2>/dev/null || true' EXIT
until grep -q '"streaming"\|streaming' "$OBSYNC_ROOT/.run/demo-obsync.log"; do
  kill -0 $AGENT 2>/dev/null || { cat "$OBSYNC_ROOT/.run/demo-obsync.log"; exit 1; }
  sleep 0.1
done

echo "== changing rows in demo.orders"
sql demo -e "
  INSERT INTO orders VALUES (1, '张三', 99.90, 'new', NOW(3)), (2, 'Zoë', 15.00, 'new', NOW(3));
  UPDATE orders SET status = 'paid' WHERE id = 1;
  DELETE FROM orders WHERE id = 2;"

echo "== messages received from topic $TOPIC"
"$BIN/obsync-rmq" consume "$TOPIC" 4 30
