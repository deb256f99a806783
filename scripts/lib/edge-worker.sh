# Sourced (after env.sh) by scripts/test.d/50-edge-worker.sh and edge-collector/worker/bench.sh: build the
# edge worker and start an origin collector and the worker under `wrangler dev`, all on loopback.
# Processes started are appended to the caller's `pids` array (wrangler as a negative process-group id,
# since it runs workerd under it); edge_cleanup stops them.

edge_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
edge_worker_dir="$edge_root/edge-collector/worker"
edge_bin="$edge_worker_dir/node_modules/.bin"
# The wasm builds have their own cache: a different target and profile from the workspace's.
edge_target="${FOOTFALL_EDGE_TARGET:-$FOOTFALL_CACHE/target-edge}"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# edge_build_worker [ARGS...]: worker-build --release ARGS, with wasm-bindgen, wasm-opt and esbuild from
# this machine (worker-build would otherwise download them from GitHub and npm).
edge_build_worker() {
  (cd "$edge_worker_dir" && CARGO_TARGET_DIR="$edge_target" WASM_BINDGEN_BIN="$(command -v wasm-bindgen)" \
    WASM_OPT_BIN="$edge_bin/wasm-opt" ESBUILD_BIN="$edge_bin/esbuild" worker-build --release "$@")
  printf 'built %s: wasm %s bytes (%s gzipped)\n' "$edge_worker_dir/build" \
    "$(wc -c <"$edge_worker_dir/build/index_bg.wasm")" "$(gzip -9c "$edge_worker_dir/build/index_bg.wasm" | wc -c)"
}

# edge_start_origin BIN PORT DIR SECRET KEYS [ARGS...]: a footfall-collector with the embedded log in DIR
# and the edge relay on; sets $origin_pid once /ready answers.
edge_start_origin() {
  local bin="$1" port="$2" dir="$3" secret="$4" keys="$5"
  shift 5
  mkdir -p "$dir"
  FOOTFALL_COLLECTOR_EDGE_SECRET="$secret" RUST_LOG=warn "$bin" --listen "127.0.0.1:$port" \
    --write-key "$keys" --sink log --log-dir "$dir/events" --dead-letter-dir "$dir/dead-letters" "$@" \
    >>"$dir/origin.log" 2>&1 &
  origin_pid=$!
  pids+=("$origin_pid")
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$port/ready" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  cat "$dir/origin.log" >&2
  return 1
}

# edge_start_worker STATE PORT VARS_TOML: the built worker under `wrangler dev` (local mode: no account,
# no metrics, request.cf from STATE/cf.json when present), with the [vars] given; waits for /health.
edge_start_worker() {
  local state="$1" port="$2" vars="$3"
  mkdir -p "$state"
  cat >"$state/wrangler.toml" <<TOML
name = "footfall-edge-local"
main = "$edge_worker_dir/build/index.js"
compatibility_date = "2026-04-20"

[vars]
$vars
TOML
  [ -f "$state/cf.json" ] && touch "$state/cf.json"
  (cd "$state" && WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_PATH="$state/cf.json" \
    WRANGLER_LOG_PATH="$state/wrangler-logs" CI=1 exec setsid \
    "$edge_bin/wrangler" dev --config "$state/wrangler.toml" --ip 127.0.0.1 --port "$port" \
    --inspector-port "$(free_port)" --local --show-interactive-dev-session=false --log-level warn \
    >"$state/wrangler.log" 2>&1) &
  pids+=("-$!")
  for _ in $(seq 1 600); do
    curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  cat "$state/wrangler.log" >&2
  return 1
}

# edge_cleanup: stops what edge_start_* started.
edge_cleanup() {
  local p
  for p in "${pids[@]}"; do kill -- "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
