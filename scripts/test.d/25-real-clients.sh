#!/usr/bin/env bash
# Third-party clients against a real footfall-collector (memory sink), from npm, in headless Chromium:
# Segment's analytics-next, configured with nothing but `cdnURL` = the collector, and RudderStack's
# JavaScript SDK (its bundled build), with the data plane and `configUrl` = the collector. Each must load
# its settings from the collector, send its events there (stored, as the collector's live-events stream
# shows) and nothing to Segment or RudderStack. A second, rate-limited collector exercises both SDKs'
# retries after a 429.
# Tools come from scripts/setup.d/25-real-clients.sh.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../env.sh
. "$here/env.sh"
root="$(cd "$here/.." && pwd)"
cd "$root"

step "real clients: analytics-next (Segment) and RudderStack against footfall-collector in Chromium"
# Built in the shared target dir, where `cargo test --workspace` built its dependencies;
# FOOTFALL_COLLECTOR_BIN points at a binary built already.
collector_bin="${FOOTFALL_COLLECTOR_BIN:-$CARGO_TARGET_DIR/debug/footfall-collector}"
[ -n "${FOOTFALL_COLLECTOR_BIN:-}" ] || cargo build -p footfall-collector
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
token=$(python3 -c 'import secrets; print(secrets.token_hex(24))')
mkdir -p "$FOOTFALL_STATE"
pids=()
stop_collectors() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
}
trap stop_collectors EXIT
# start_collector NAME ARGS...: starts a collector (memory sink, live events on) and sets $origin once it is ready.
start_collector() {
  local name="$1" port log
  shift
  port=$(free_port)
  log="$FOOTFALL_STATE/real-clients-$name.log"
  "$collector_bin" --listen "127.0.0.1:$port" --write-key wk_e2e=shop/web --sink memory \
    --live-events-token "$token" "$@" >"$log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$port/ready" >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -fsS "http://127.0.0.1:$port/ready" >/dev/null || { cat "$log" >&2; return 1; }
  origin="http://127.0.0.1:$port"
}
start_collector plain
plain="$origin"
start_collector limited --rate-limit-events-per-sec 1 --rate-limit-burst 1
limited="$origin"
FOOTFALL_COLLECTOR_URL="$plain" FOOTFALL_COLLECTOR_LIMITED_URL="$limited" FOOTFALL_LIVE_EVENTS_TOKEN="$token" \
  node --test --test-concurrency=1 edge-collector/real-clients/
