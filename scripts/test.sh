#!/usr/bin/env bash
# The test command: starts the private services, checks formatting and lints, runs every test
# of the workspace against the real MariaDB and broker, and stops the services again.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$OBSYNC_ROOT"
ensure_toolchain

started=0
cleanup() {
  if (( started )); then scripts/services.sh stop || true; fi
}
trap cleanup EXIT

# Services we started stay ours to stop; services already running (a developer's) are left up.
if ! scripts/services.sh status | grep '^broker running' >/dev/null; then started=1; fi
scripts/services.sh start
ensure_chromium

echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== cargo clippy (wasm32: the SDK's guest glue and the built-in formats)"
cargo clippy --target wasm32-unknown-unknown -p obsync-sdk -p obsync-format-default \
  -p obsync-format-default-extend -p obsync-format-canal -p obsync-format-dataworks \
  -p obsync-format-shareplex -- -D warnings
echo "== cargo test"
cargo test --workspace -- --test-threads=2
