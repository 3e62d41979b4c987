#!/usr/bin/env bash
# Runs obsync's cargo-fuzz targets (agent/fuzz) for a bounded time each, from the committed
# seed corpus (agent/fuzz/corpus/<target>, plus the recorded binlog files for the decoder).
# A panic, an allocation above the malloc limit or a leak fails the run and leaves the input in
# agent/fuzz/artifacts/<target>/. Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
# Needs the nightly toolchain (rustup) and installs cargo-fuzz when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(binlog_events ddl row_filter objects_csv module_output)

say() { echo "[fuzz] $*"; }
rustup toolchain list | grep -q '^nightly' || { say "installing the nightly toolchain"; rustup toolchain install nightly --profile minimal; }
command -v cargo-fuzz >/dev/null || { say "installing cargo-fuzz"; cargo install cargo-fuzz --locked; }

work=".run/fuzz"
mkdir -p "$work"
for t in "${targets[@]}"; do
  corpus="$work/$t"
  mkdir -p "$corpus"
  cp -n agent/fuzz/corpus/"$t"/* "$corpus"/ 2>/dev/null || true
  if [ "$t" = binlog_events ]; then
    # The decoder's seeds: every recorded binlog under 64 KiB, without its magic number.
    for f in agent/tests/fixtures/mysql-binlog/*; do
      [ "$(stat -c %s "$f")" -lt 65536 ] && [ "${f##*.}" != md ] || continue
      tail -c +5 "$f" > "$corpus/$(basename "$f")"
    done
  fi
  say "$t: ${seconds}s from $(ls "$corpus" | wc -l) seeds"
  log="$work/$t.log"
  if ! cargo +nightly fuzz run --fuzz-dir agent/fuzz "$t" "$corpus" -- \
    -max_total_time="$seconds" -malloc_limit_mb=512 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 >"$log" 2>&1; then
    grep -E 'panicked|ERROR|SUMMARY|malloc|Test unit written' "$log" | head -20 || true
    say "$t FAILED (log $log); the input is in agent/fuzz/artifacts/$t/"
    exit 1
  fi
  grep -E '^stat::(number_of_executed_units|peak_rss_mb|new_units_added)' "$log" | sed "s/^/[fuzz] $t /"
done
say "every target ran ${seconds}s without a panic or an allocation above 512 MiB"
