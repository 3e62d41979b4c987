#!/usr/bin/env bash
# Benchmarks on the private MariaDB and broker (release builds; prints tables, asserts nothing).
# One binlog is written first and every throughput measurement reads it: 2,000,000 row changes of
# a wide table (32 columns of mixed types) and a narrow one (BIGINT, INT), 800,000 INSERTs,
# 100,000 UPDATEs (both images) and 100,000 DELETEs each; the wide table's in 100,000-row
# transactions, the narrow table's INSERTs in 1,000-row transactions.
#   scripts/bench.sh
#     1. raw event read (bytes/s), our decoder vs mysql_common's row API, decode + WASM Default
#        format vs decode + the native format (cargo bench --bench decode, on the binlog files);
#     2. end to end into RocketMQ vs the broker's direct ingest of the same messages, peak RSS
#        (obsync-bench e2e, obsync streaming the same binlog from its first position);
#     3. latency and RSS under a steady 10k rows/s, RSS during one 1M-row transaction.
#   BENCH_DECODE=0 / BENCH_E2E=0 / BENCH_LATENCY=0   skip a part
#   BENCH_LATENCY_ARGS="30 10000 1000000"   seconds, rows/s and big-transaction rows
#   BENCH_FORMAT=1   also the WASM-vs-native format benchmark on a synthetic batch (cargo bench)
#   BENCH_KEEP=1     keep the dataset's database afterwards
# Results and method: BENCHMARKS.md.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$OBSYNC_ROOT"
ensure_toolchain

scripts/services.sh start mariadb namesrv broker
ensure_java_client
echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
if [ "${BENCH_E2E:-1}" = 1 ] || [ "${BENCH_LATENCY:-1}" = 1 ]; then
  cargo build --release --quiet -p obsync -p obsync-tests --bins
  BIN="${CARGO_TARGET_DIR:-$OBSYNC_ROOT/target}/release"
fi
MDB_DATA="$OBSYNC_SERVICES_DIR/mariadb/data"
sql() { mariadb --no-defaults --socket="$OBSYNC_SERVICES_DIR/mariadb/mariadb.sock" -uroot -N -B "$@"; }

DB=bench_data
if [ "${BENCH_DECODE:-1}" = 1 ] || [ "${BENCH_E2E:-1}" = 1 ]; then
  echo "== writing the dataset (database $DB)"
  sql -e "DROP DATABASE IF EXISTS $DB; CREATE DATABASE $DB; FLUSH BINARY LOGS"
  first="$(sql -e 'SHOW MASTER STATUS' | cut -f1)"
  cols=""; vals=""
  for i in $(seq 0 31); do
    case $((i % 8)) in
      0) t="BIGINT UNSIGNED"; v="seq + @base" ;;
      1) t="INT"; v="seq % 100000" ;;
      2) t="VARCHAR(255)"; v="CONCAT('name-', seq, '-订单')" ;;
      3) t="DECIMAL(20,6)"; v="seq / 7" ;;
      4) t="DOUBLE"; v="seq * 1.5" ;;
      5) t="DATETIME(6)"; v="NOW(6)" ;;
      6) t="TIMESTAMP(6) NULL"; v="NOW(6)" ;;
      7) t="BLOB"; v="REPEAT('x', 32)" ;;
    esac
    cols+="${cols:+, }c$i $t"; vals+="${vals:+, }$v"
  done
  sql $DB -e "CREATE TABLE wide ($cols, PRIMARY KEY (c0)); CREATE TABLE narrow (id BIGINT PRIMARY KEY, v INT)"
  started=$(date +%s.%N)
  for i in $(seq 0 7); do
    sql $DB -e "SET @base = $((i * 100000)); INSERT INTO wide SELECT $vals FROM seq_1_to_100000"
    # 100 statements of 1,000 rows: 100 transactions.
    stmts=""
    for j in $(seq 0 99); do
      lo=$((i * 100000 + j * 1000 + 1)); stmts+="INSERT INTO narrow SELECT seq, seq FROM seq_${lo}_to_$((lo + 999));"
    done
    sql $DB -e "$stmts"
  done
  sql $DB -e "UPDATE wide SET c1 = c1 + 1, c2 = CONCAT(c2, '-u') WHERE c0 <= 100000;
    UPDATE narrow SET v = v + 1 WHERE id <= 100000;
    DELETE FROM wide WHERE c0 > 700000; DELETE FROM narrow WHERE id > 700000"
  sql -e "FLUSH BINARY LOGS"
  secs="$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')"
  echo "MariaDB wrote 2,000,000 row changes in ${secs} s"
  files="$(sql -e 'SHOW BINARY LOGS' | cut -f1 | awk -v f="$first" '$0 >= f' | head -n -1 | sed "s|^|$MDB_DATA/|" | paste -sd:)"
  export BENCH_DATASET="$DB wide,narrow $first:4 1600000,200000,200000"
  export BENCH_DATASET_ABOUT="wide (32 columns) and narrow tables, 1M each; wide in 100,000-row transactions, narrow INSERTs in 1,000-row ones"
fi
if [ "${BENCH_DECODE:-1}" = 1 ]; then
  echo "== decode: ours vs mysql_common's row API, and decode + format (the dataset's binlog files)"
  OBSYNC_DECODE_BINLOGS="$files" OBSYNC_DECODE_TABLES="$DB.wide,$DB.narrow" \
    cargo bench --quiet -p obsync --bench decode
fi
if [ "${BENCH_E2E:-1}" = 1 ]; then
  echo "== end to end: obsync streaming the dataset's binlog vs the broker's direct ingest"
  RUST_LOG=error "$BIN/obsync-bench" e2e
fi
if [ -n "${BENCH_DATASET:-}" ] && [ "${BENCH_KEEP:-0}" != 1 ]; then
  sql -e "DROP DATABASE $DB"
fi
if [ "${BENCH_LATENCY:-1}" = 1 ]; then
  echo "== latency and memory: steady load, then one big transaction"
  # shellcheck disable=SC2086
  RUST_LOG=error "$BIN/obsync-bench" latency ${BENCH_LATENCY_ARGS:-30 10000 1000000}
fi
if [ "${BENCH_FORMAT:-0}" = 1 ]; then
  echo "== format: WASM vs native on a synthetic batch"
  cargo bench --quiet -p obsync --bench format
fi
