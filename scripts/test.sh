#!/usr/bin/env bash
# The test command: installs (first time) and starts the private services (MariaDB, a second
# MariaDB, seekdb, an Apache RocketMQ name server, broker and ACL broker), builds the Java test
# client, checks formatting and lints, runs every test of the workspace against them, and stops
# the services it started.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$OBSYNC_ROOT"

T0=$SECONDS
step() { printf '\n[test %4ds] %s\n' "$((SECONDS - T0))" "$*"; }

step "checking the Rust toolchain (rust-toolchain.toml pins it, with the wasm32 target)"
ensure_toolchain

started=()
started_v4=()
v4=(env OBSYNC_ROCKETMQ_VERSION="$OBSYNC_ROCKETMQ_V4" OBSYNC_BROKER_PORT="$OBSYNC_V4_BROKER_PORT" OBSYNC_ACL_BROKER_PORT="$OBSYNC_V4_ACL_BROKER_PORT"
    OBSYNC_SYNC_BROKER_PORT="$OBSYNC_V4_SYNC_BROKER_PORT" OBSYNC_LIMIT_BROKER_PORT="$OBSYNC_V4_LIMIT_BROKER_PORT")
cleanup() {
  if (( ${#started_v4[@]} )); then "${v4[@]}" scripts/services.sh stop "${started_v4[@]}" || true; fi
  if (( ${#started[@]} )); then scripts/services.sh stop "${started[@]}" || true; fi
}
trap cleanup EXIT

# Services we started stay ours to stop; services already running (a developer's) are left up.
step "starting the private services (installed on first use; see README.md, Private services)"
before="$(scripts/services.sh status)"
for s in mariadb mariadb2 seekdb namesrv broker aclbroker; do
  grep -q "^$s running" <<<"$before" || started+=("$s")
done
scripts/services.sh start
step "building the Java test client (tests/java)"
ensure_java_client
step "installing Chromium for the status page test (first use)"
ensure_chromium

step "cargo fmt --check"
cargo fmt --all --check
step "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
step "cargo clippy (wasm32: the SDK's guest glue and the built-in formats)"
cargo clippy --target wasm32-unknown-unknown -p obsync-sdk -p obsync-format-default \
  -p obsync-format-default-extend -p obsync-format-canal -p obsync-format-dataworks \
  -p obsync-format-shareplex -- -D warnings
step "cargo test (Apache RocketMQ $OBSYNC_ROCKETMQ_VERSION)"
cargo test --workspace -- --test-threads=2

# The broker-facing tests again on the 4.9 generation many OMS-era clusters run: its brokers on
# ports of their own beside the 5.x ones, registered with the 5.x name server (obsync's client
# cannot read a 4.9 name server's routes: README, "Apache RocketMQ versions").
step "the end-to-end, ordering, crash, restart, ACL, send status, broker limit and sink error tests on Apache RocketMQ $OBSYNC_ROCKETMQ_V4"
before_v4="$("${v4[@]}" scripts/services.sh status)"
for s in broker aclbroker; do
  grep -q "^$s running" <<<"$before_v4" || started_v4+=("$s")
done
"${v4[@]}" scripts/services.sh start broker aclbroker
"${v4[@]}" cargo test -p obsync-tests --test end_to_end --test restarts --test sink_errors \
  --test broker_status --test broker_limits --test java_client -- --test-threads=2
"${v4[@]}" cargo test -p obsync --test crash
step "all tests passed"
