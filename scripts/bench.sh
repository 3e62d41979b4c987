#!/usr/bin/env bash
# Benchmarks on the private MariaDB and broker (release builds; prints tables, asserts nothing):
#   scripts/bench.sh [ROWS]     end to end vs the broker's direct ingest, peak RSS (default 1M rows)
#   BENCH_FORMAT=1 scripts/bench.sh   also the WASM-vs-native format benchmark (cargo bench)
# Results and method: BENCHMARKS.md.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$OBSYNC_ROOT"
ensure_toolchain

scripts/services.sh start
cargo build --release --quiet -p obsync -p obsync-tests --bins
BIN="${CARGO_TARGET_DIR:-$OBSYNC_ROOT/target}/release"
echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
echo "== end to end, ${1:-1000000} rows"
RUST_LOG=error "$BIN/obsync-bench" "${1:-1000000}"
if [ "${BENCH_FORMAT:-0}" = 1 ]; then
  echo "== format: WASM vs native"
  cargo bench --quiet -p obsync --bench format
fi
