#!/usr/bin/env bash
# The edge worker end to end: builds it with worker-build (wasm-bindgen and wasm-opt from the machine,
# never downloaded), lints the wasm build, starts a real origin footfall-collector (embedded log, edge
# relay on) and the worker under `wrangler dev` (workerd from npm) in front of it, both on loopback,
# then runs the collector's ingestion suite (footfall-conformance) through the worker and an origin
# outage: 503 + Retry-After while the origin hangs (timeout) or is down, and the retry stored once it is back.
# Tools come from scripts/setup.d/50-edge-worker.sh.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../env.sh
. "$here/env.sh"
# shellcheck source=../lib/edge-worker.sh
. "$here/lib/edge-worker.sh"
cd "$edge_root"

step "edge: build the worker (worker-build --release)"
# wasm-opt (binaryen's, running on Node) takes two minutes and changes size and speed, not behaviour:
# the test skips it unless FOOTFALL_EDGE_WASM_OPT=1; bench.sh and `wrangler deploy` run it.
if [ "${FOOTFALL_EDGE_WASM_OPT:-0}" = 1 ]; then edge_build_worker; else edge_build_worker --no-opt; fi

step "edge: clippy -D warnings on the wasm32 build"
CARGO_TARGET_DIR="$edge_target" cargo clippy -p footfall-edge-worker --target wasm32-unknown-unknown --locked -- -D warnings

step "edge: the origin collector and the suite"
# Built in the shared target dir, where `cargo test --workspace` built their dependencies.
cargo build -p footfall-collector --locked
cargo test -p footfall-conformance --test edge --locked --no-run
collector_bin="$CARGO_TARGET_DIR/debug/footfall-collector"

state="$FOOTFALL_STATE/edge-worker"
rm -rf "$state"
mkdir -p "$state"
pids=()
trap edge_cleanup EXIT

secret="edge-test-secret-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
keys="wk_test=shop/web,wk_burst=shop/burst"
origin_port=$(free_port)
origin="http://127.0.0.1:$origin_port"
edge_start_origin "$collector_bin" "$origin_port" "$state/origin" "$secret" "$keys"

# What Cloudflare would say about the client; wrangler dev reads it instead of downloading cf.json.
mkdir -p "$state/worker"
cat >"$state/worker/cf.json" <<'JSON'
{"colo": "FRA", "country": "DE", "regionCode": "BE", "region": "Berlin", "city": "Berlin",
 "latitude": "52.52000", "longitude": "13.40500", "timezone": "Europe/Berlin", "asn": 64500,
 "httpProtocol": "HTTP/1.1", "tlsVersion": "TLSv1.3", "tlsCipher": "AEAD-AES128-GCM-SHA256",
 "clientTcpRtt": 0, "requestPriority": "", "edgeRequestKeepAliveStatus": 1}
JSON
expect_geo='{"country":"DE","region":"BE","city":"Berlin","latitude":52.52,"longitude":13.405,"timezone":"Europe/Berlin"}'

worker_port=$(free_port)
worker="http://127.0.0.1:$worker_port"
edge_start_worker "$state/worker" "$worker_port" "ORIGIN_URL = \"$origin\"
ORIGIN_SECRET = \"$secret\"
WRITE_KEYS = '{\"wk_test\": {\"projectId\": \"shop\", \"sourceId\": \"web\"}, \"wk_burst\": {\"projectId\": \"shop\", \"sourceId\": \"burst\"}}'
RATE_LIMIT_EVENTS_PER_SEC = \"100\"
RATE_LIMIT_BURST = \"1000\"
RETRY_AFTER_SECS = \"5\"
ORIGIN_TIMEOUT_MS = \"5000\""

step "edge: the ingestion suite through the worker"
FOOTFALL_COLLECTOR_URL="$worker" FOOTFALL_ORIGIN_LOG_DIR="$state/origin" FOOTFALL_EXPECT_GEO="$expect_geo" \
  cargo test -p footfall-conformance --test edge --locked -- --ignored --test-threads=1

step "edge: origin hung, then down: 503 + Retry-After; the retry is stored once it is back"
batch='{"batch":[{"type":"track","event":"Outage","userId":"u-outage","messageId":"outage-1"}]}'
post() {
  curl -sS -o "$state/answer.json" -D "$state/headers.txt" -w '%{http_code}' -u wk_test: \
    -H 'content-type: application/json' --data-binary "$batch" "$worker/v1/batch"
}
accepted() { curl -fsS "$origin/metrics" | awk '/^footfall_collector_events_accepted_total / { print $2 }'; }
# A hung origin (stopped, so the kernel still accepts the connection): 503 once ORIGIN_TIMEOUT_MS passes.
kill -STOP "$origin_pid"
started=$(date +%s)
status=$(post)
kill -CONT "$origin_pid"
waited=$(( $(date +%s) - started ))
[ "$status" = 503 ] || { echo "origin hung: expected 503, got $status: $(cat "$state/answer.json")" >&2; exit 1; }
[ "$waited" -ge 4 ] && [ "$waited" -le 15 ] || { echo "origin hung: answered after $waited s, not the 5 s timeout" >&2; exit 1; }
grep -q 'did not answer (no answer within 5000 ms)' "$state/answer.json" || { cat "$state/answer.json" >&2; exit 1; }
echo "origin hung: 503 after the ${waited} s timeout"
# Down: the connection is refused.
kill "$origin_pid"
wait "$origin_pid" 2>/dev/null || true
status=$(post)
[ "$status" = 503 ] || { echo "origin down: expected 503, got $status: $(cat "$state/answer.json")" >&2; exit 1; }
grep -qi '^retry-after: 5' "$state/headers.txt" || { echo "origin down: no Retry-After: 5" >&2; cat "$state/headers.txt" >&2; exit 1; }
grep -q '"code":"unavailable"' "$state/answer.json" || { cat "$state/answer.json" >&2; exit 1; }
edge_start_origin "$collector_bin" "$origin_port" "$state/origin" "$secret" "$keys"
status=$(post)
[ "$status" = 200 ] || { echo "origin back: expected 200, got $status: $(cat "$state/answer.json")" >&2; exit 1; }
[ "$(accepted)" = 1 ] || { echo "origin back: expected exactly the one retried event, got $(accepted)" >&2; exit 1; }
echo "origin outage: 503 with Retry-After: 5 while the origin was down; the retry was stored once"
