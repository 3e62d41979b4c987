#!/usr/bin/env bash
# Benchmarks on the private MariaDB and broker (release builds; prints tables, asserts nothing):
#   scripts/bench.sh [ROWS]     end to end vs the broker's direct ingest, peak RSS (default 1M
#                               row changes), then latency and RSS under a steady 10k rows/s and
#                               RSS during one 1M-row transaction
#   BENCH_E2E=0 / BENCH_LATENCY=0   skip the end-to-end / the latency and memory run
#   BENCH_LATENCY_ARGS="30 10000 1000000"   seconds, rows/s and big-transaction rows
#   BENCH_FORMAT=1 scripts/bench.sh   also the WASM-vs-native format benchmark (cargo bench)
#   BENCH_DECODE=1 scripts/bench.sh   also our row decoder vs mysql_common's row API on 1M wide
#                                      (32 columns) and 1M narrow rows written for it, and decode
#                                      + WASM Default format vs decode + the native format
# Results and method: BENCHMARKS.md.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$OBSYNC_ROOT"
ensure_toolchain

scripts/services.sh start
echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
if [ "${BENCH_E2E:-1}" = 1 ] || [ "${BENCH_LATENCY:-1}" = 1 ]; then
  cargo build --release --quiet -p obsync -p obsync-tests --bins
  BIN="${CARGO_TARGET_DIR:-$OBSYNC_ROOT/target}/release"
fi
if [ "${BENCH_E2E:-1}" = 1 ]; then
  echo "== end to end, ${1:-1000000} row changes"
  RUST_LOG=error "$BIN/obsync-bench" e2e "${1:-1000000}"
fi
if [ "${BENCH_LATENCY:-1}" = 1 ]; then
  echo "== latency and memory: steady load, then one big transaction"
  # shellcheck disable=SC2086
  RUST_LOG=error "$BIN/obsync-bench" latency ${BENCH_LATENCY_ARGS:-30 10000 1000000}
fi
if [ "${BENCH_FORMAT:-0}" = 1 ]; then
  echo "== format: WASM vs native"
  cargo bench --quiet -p obsync --bench format
fi
if [ "${BENCH_DECODE:-0}" = 1 ]; then
  echo "== decode: ours vs mysql_common's row API (binlog files read from disk)"
  MDB_DATA="$OBSYNC_SERVICES_DIR/mariadb/data"
  sql() { mariadb --no-defaults --socket="$OBSYNC_SERVICES_DIR/mariadb/mariadb.sock" -uroot -N -B "$@"; }
  sql -e "DROP DATABASE IF EXISTS bench_decode; CREATE DATABASE bench_decode; FLUSH BINARY LOGS"
  first="$(sql -e 'SHOW MASTER STATUS' | cut -f1)"
  cols=""; vals=""
  for i in $(seq 0 31); do
    case $((i % 8)) in
      0) t="BIGINT UNSIGNED"; v="seq + @base" ;;
      1) t="INT"; v="seq % 100000" ;;
      2) t="VARCHAR(255)"; v="CONCAT('name-', seq)" ;;
      3) t="DECIMAL(20,6)"; v="seq / 7" ;;
      4) t="DOUBLE"; v="seq * 1.5" ;;
      5) t="DATETIME(6)"; v="NOW(6)" ;;
      6) t="TIMESTAMP(6) NULL"; v="NOW(6)" ;;
      7) t="BLOB"; v="REPEAT('x', 32)" ;;
    esac
    cols+="${cols:+, }c$i $t"; vals+="${vals:+, }$v"
  done
  sql bench_decode -e "CREATE TABLE wide ($cols, PRIMARY KEY (c0)); CREATE TABLE narrow (id BIGINT PRIMARY KEY, v INT)"
  # 800k INSERTs, 100k UPDATEs (both images) and 100k DELETEs per table, in 100k-row transactions.
  for i in $(seq 0 7); do
    sql bench_decode -e "SET @base = $((i * 100000)); INSERT INTO wide SELECT $vals FROM seq_1_to_100000;
      INSERT INTO narrow SELECT seq + $((i * 100000)), seq FROM seq_1_to_100000"
  done
  sql bench_decode -e "UPDATE wide SET c1 = c1 + 1, c2 = CONCAT(c2, '-u') WHERE c0 <= 100000;
    UPDATE narrow SET v = v + 1 WHERE id <= 100000;
    DELETE FROM wide WHERE c0 > 700000; DELETE FROM narrow WHERE id > 700000"
  sql -e "FLUSH BINARY LOGS"
  files="$(sql -e 'SHOW BINARY LOGS' | cut -f1 | awk -v f="$first" '$0 >= f' | head -n -1 | sed "s|^|$MDB_DATA/|" | paste -sd:)"
  OBSYNC_DECODE_BINLOGS="$files" OBSYNC_DECODE_TABLES="bench_decode.wide,bench_decode.narrow" \
    cargo bench --quiet -p obsync --bench decode
  sql -e "DROP DATABASE bench_decode"
fi
