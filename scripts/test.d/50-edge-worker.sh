#!/usr/bin/env bash
# The edge worker end to end: builds it with worker-build (wasm-bindgen and wasm-opt from the machine,
# never downloaded), lints the wasm build, starts a real origin footfall-collector (embedded log, edge
# relay on) and the worker under `wrangler dev` (workerd from npm) in front of it, both on loopback,
# then runs the collector's ingestion suite (footfall-conformance) through the worker and an origin
# outage: 503 + Retry-After while the origin is down, and the retry stored once it is back.
# Tools come from scripts/setup.d/50-edge-worker.sh.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../env.sh
. "$here/env.sh"
root="$(cd "$here/.." && pwd)"
cd "$root"
worker_dir="$root/edge-collector/worker"
bin="$worker_dir/node_modules/.bin"
# The wasm builds have their own cache: a different target and profile from the workspace's.
edge_target="${FOOTFALL_EDGE_TARGET:-$FOOTFALL_CACHE/target-edge}"

step "edge: build the worker (worker-build --release)"
(cd "$worker_dir" && CARGO_TARGET_DIR="$edge_target" WASM_BINDGEN_BIN="$(command -v wasm-bindgen)" \
  WASM_OPT_BIN="$bin/wasm-opt" ESBUILD_BIN="$bin/esbuild" worker-build --release)
printf 'built %s: wasm %s bytes (%s gzipped)\n' "$worker_dir/build" \
  "$(wc -c <"$worker_dir/build/index_bg.wasm")" "$(gzip -9c "$worker_dir/build/index_bg.wasm" | wc -c)"

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
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

secret="edge-test-secret-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
origin_port=$(free_port)
origin="http://127.0.0.1:$origin_port"
origin_pid=
start_origin() {
  FOOTFALL_COLLECTOR_EDGE_SECRET="$secret" RUST_LOG=warn "$collector_bin" --listen "127.0.0.1:$origin_port" \
    --write-key wk_test=shop/web,wk_burst=shop/burst --sink log \
    --log-dir "$state/origin/events" --dead-letter-dir "$state/origin/dead-letters" \
    >>"$state/origin.log" 2>&1 &
  origin_pid=$!
  pids+=("$origin_pid")
  for _ in $(seq 1 100); do
    curl -fsS "$origin/ready" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  cat "$state/origin.log" >&2
  return 1
}
start_origin

# What Cloudflare would say about the client; wrangler dev reads it instead of fetching cf.json.
cat >"$state/cf.json" <<'JSON'
{"colo": "FRA", "country": "DE", "regionCode": "BE", "region": "Berlin", "city": "Berlin",
 "latitude": "52.52000", "longitude": "13.40500", "timezone": "Europe/Berlin", "asn": 64500,
 "httpProtocol": "HTTP/1.1", "tlsVersion": "TLSv1.3", "tlsCipher": "AEAD-AES128-GCM-SHA256",
 "clientTcpRtt": 0, "requestPriority": "", "edgeRequestKeepAliveStatus": 1}
JSON
expect_geo='{"country":"DE","region":"BE","city":"Berlin","latitude":52.52,"longitude":13.405,"timezone":"Europe/Berlin"}'

worker_port=$(free_port)
worker="http://127.0.0.1:$worker_port"
cat >"$state/wrangler.toml" <<TOML
name = "footfall-edge-test"
main = "$worker_dir/build/index.js"
compatibility_date = "2026-04-20"

[vars]
ORIGIN_URL = "$origin"
ORIGIN_SECRET = "$secret"
WRITE_KEYS = '{"wk_test": {"projectId": "shop", "sourceId": "web"}, "wk_burst": {"projectId": "shop", "sourceId": "burst"}}'
RATE_LIMIT_EVENTS_PER_SEC = "100"
RATE_LIMIT_BURST = "1000"
RETRY_AFTER_SECS = "5"
ORIGIN_TIMEOUT_MS = "5000"
TOML
# Local mode only: no account, no metrics, no cf.json download.
(cd "$state" && WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_PATH="$state/cf.json" \
  WRANGLER_LOG_PATH="$state/wrangler-logs" CI=1 \
  "$bin/wrangler" dev --config "$state/wrangler.toml" --ip 127.0.0.1 --port "$worker_port" \
  --inspector-port "$(free_port)" --local --show-interactive-dev-session=false --log-level warn \
  >"$state/wrangler.log" 2>&1) &
pids+=($!)
for _ in $(seq 1 600); do
  curl -fsS "$worker/health" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "$worker/health" >/dev/null || { cat "$state/wrangler.log" >&2; exit 1; }

step "edge: the ingestion suite through the worker"
FOOTFALL_COLLECTOR_URL="$worker" FOOTFALL_ORIGIN_LOG_DIR="$state/origin" FOOTFALL_EXPECT_GEO="$expect_geo" \
  cargo test -p footfall-conformance --test edge --locked -- --ignored --test-threads=1

step "edge: origin down: 503 + Retry-After, nothing acknowledged; the retry is stored"
batch='{"batch":[{"type":"track","event":"Outage","userId":"u-outage","messageId":"outage-1"}]}'
post() { curl -sS -o "$state/answer.json" -D "$state/headers.txt" -w '%{http_code}' -u wk_test: \
  -H 'content-type: application/json' --data-binary "$batch" "$worker/v1/batch"; }
accepted() { curl -fsS "$origin/metrics" | awk '/^footfall_collector_events_accepted_total / { print $2 }'; }
kill "$origin_pid"
wait "$origin_pid" 2>/dev/null || true
status=$(post)
[ "$status" = 503 ] || { echo "origin down: expected 503, got $status: $(cat "$state/answer.json")" >&2; exit 1; }
grep -qi '^retry-after: 5' "$state/headers.txt" || { echo "origin down: no Retry-After: 5" >&2; cat "$state/headers.txt" >&2; exit 1; }
grep -q '"code":"unavailable"' "$state/answer.json" || { cat "$state/answer.json" >&2; exit 1; }
start_origin
status=$(post)
[ "$status" = 200 ] || { echo "origin back: expected 200, got $status: $(cat "$state/answer.json")" >&2; exit 1; }
[ "$(accepted)" = 1 ] || { echo "origin back: expected exactly the one retried event, got $(accepted)" >&2; exit 1; }
echo "origin outage: 503 with Retry-After: 5 while down; the retry was stored once"
