# shellcheck shell=bash
# Collectors (memory sink, on loopback) for the end-to-end tests of scripts/test.d/: builds
# footfall-collector in the shared target dir, where `cargo test --workspace` built its dependencies,
# unless FOOTFALL_COLLECTOR_BIN points at a binary built already; every collector started is killed
# when the script exits. Source it after env.sh.

collector_bin="${FOOTFALL_COLLECTOR_BIN:-$CARGO_TARGET_DIR/debug/footfall-collector}"
[ -n "${FOOTFALL_COLLECTOR_BIN:-}" ] || cargo build -p footfall-collector
mkdir -p "$FOOTFALL_STATE"
collector_pids=()
stop_collectors() {
  local p
  for p in "${collector_pids[@]}"; do kill "$p" 2>/dev/null || true; done
}
trap stop_collectors EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# start_collector NAME ARGS...: starts a collector with the write key wk_e2e (project shop, source web)
# and ARGS, logging to $FOOTFALL_STATE/e2e-NAME.log, and sets $origin once it is ready.
start_collector() {
  local name="$1" port log
  shift
  port=$(free_port)
  log="$FOOTFALL_STATE/e2e-$name.log"
  "$collector_bin" --listen "127.0.0.1:$port" --write-key wk_e2e=shop/web --sink memory "$@" >"$log" 2>&1 &
  collector_pids+=($!)
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$port/ready" >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -fsS "http://127.0.0.1:$port/ready" >/dev/null || { cat "$log" >&2; return 1; }
  # shellcheck disable=SC2034 # read by the script that sources this
  origin="http://127.0.0.1:$port"
}
