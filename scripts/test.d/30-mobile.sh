#!/usr/bin/env bash
# Mobile SDK checks beyond `cargo test`: builds libfootfall_mobile, checks the committed Kotlin and Swift
# bindings against freshly generated ones, then compiles and runs the Kotlin tests on the JVM (JNA)
# against the real collector (footfall-collector, started here on a free port with its durable log
# sink), including the kill -9 / restart test, and runs the JVM example against it.
#
# FOOTFALL_COLLECTOR_URL=http://… uses a collector that is already running (it must accept the write
# keys wk_mobile_test and wk_example). FOOTFALL_MOBILE_STANDIN=1 runs the Kotlin tests against the
# test proxy's stand-in answers instead, for machines where the collector cannot be built.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../env.sh
. "$here/env.sh"
repo="$(cd "$here/.." && pwd)"
cd "$repo"
# shellcheck source=../../sdk-mobile/scripts/jvm-env.sh
. "$repo/sdk-mobile/scripts/jvm-env.sh"

step "mobile: build libfootfall_mobile (release)"
cargo build --quiet --locked --release -p footfall-mobile --lib
lib="$CARGO_TARGET_DIR/release/libfootfall_mobile.so"

step "mobile: generated Kotlin and Swift bindings match the committed copies"
FOOTFALL_MOBILE_LIB="$lib" "$repo/sdk-mobile/scripts/generate-bindings.sh" --check

step "mobile: compile the Kotlin bindings and tests"
classes="$FOOTFALL_MOBILE_JVM/test-classes"
kotlin_compile "$classes" sdk-mobile/android/src/main/kotlin sdk-mobile/android/src/test/kotlin

work="$(mktemp -d)"
collector_pid=""
cleanup() {
  if [ -n "$collector_pid" ]; then
    kill "$collector_pid" 2>/dev/null || true
    wait "$collector_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

if [ -n "${FOOTFALL_MOBILE_STANDIN:-}" ]; then
  unset FOOTFALL_COLLECTOR_URL
  echo "FOOTFALL_MOBILE_STANDIN set: the Kotlin tests use the proxy's stand-in collector"
elif [ -z "${FOOTFALL_COLLECTOR_URL:-}" ]; then
  step "mobile: start footfall-collector"
  cargo build --quiet --locked -p footfall-collector
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  "$CARGO_TARGET_DIR/debug/footfall-collector" \
    --listen "127.0.0.1:$port" \
    --write-key "wk_mobile_test=mobile/jvm-tests,wk_example=mobile/example" \
    --sink log --log-dir "$work/events" --dead-letter-dir "$work/dead-letters" \
    >"$work/collector.log" 2>&1 &
  collector_pid=$!
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
    if ! kill -0 "$collector_pid" 2>/dev/null; then
      echo "footfall-collector exited at start:" >&2
      cat "$work/collector.log" >&2
      exit 1
    fi
    sleep 0.1
  done
  export FOOTFALL_COLLECTOR_URL="http://127.0.0.1:$port"
fi

step "mobile: Kotlin tests on the JVM"
if ! java -Djna.library.path="$CARGO_TARGET_DIR/release" -cp "$classes:$KOTLIN_RUNTIME_CP" \
  dev.footfall.mobile.TestRunner; then
  [ -f "$work/collector.log" ] && { echo "--- collector log (tail)"; tail -n 40 "$work/collector.log"; }
  exit 1
fi

if [ -n "${FOOTFALL_COLLECTOR_URL:-}" ]; then
  step "mobile: examples/kotlin-jvm against the collector"
  "$repo/examples/kotlin-jvm/run.sh" "$FOOTFALL_COLLECTOR_URL" wk_example "$work/example.sqlite"
fi
