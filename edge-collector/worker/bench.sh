#!/usr/bin/env bash
# The latency the edge hop adds: the same footfall-loadgen batches sent straight to an origin collector
# (embedded log, release build) and through the worker under `wrangler dev` (workerd) in front of it,
# both on loopback. Extra arguments go to both loadgen runs (default: -c 4 -d 10 --batch-size 50).
# Needs what scripts/setup.d/50-edge-worker.sh installs; results are printed as two tables.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../scripts" && pwd)"
# shellcheck source=../../scripts/env.sh
. "$here/env.sh"
# shellcheck source=../../scripts/lib/edge-worker.sh
. "$here/lib/edge-worker.sh"
cd "$edge_root"
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(-c 4 -d 10 --batch-size 50)

# FOOTFALL_EDGE_BUILD=0 reuses the worker built by the previous run (worker-build runs wasm-opt each time).
[ "${FOOTFALL_EDGE_BUILD:-1}" = 0 ] || edge_build_worker
cargo build --release --locked -p footfall-collector -p footfall-loadgen
state="$FOOTFALL_STATE/edge-bench"
rm -rf "$state"
pids=()
trap edge_cleanup EXIT
secret="edge-bench-secret-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
origin_port=$(free_port)
edge_start_origin "$CARGO_TARGET_DIR/release/footfall-collector" "$origin_port" "$state/origin" "$secret" wk_load=shop/web
worker_port=$(free_port)
edge_start_worker "$state/worker" "$worker_port" "ORIGIN_URL = \"http://127.0.0.1:$origin_port\"
ORIGIN_SECRET = \"$secret\"
WRITE_KEYS = '{\"wk_load\": {\"projectId\": \"shop\", \"sourceId\": \"web\"}}'"

loadgen="$CARGO_TARGET_DIR/release/footfall-loadgen"
# The worker's own CPU: workerd, in the process group wrangler leads (pids holds it as -<pgid>).
workerd_pid=$(pgrep -g "${pids[-1]#-}" -x workerd | head -1 || true)
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "## straight to the origin (127.0.0.1:$origin_port)"
"$loadgen" --url "http://127.0.0.1:$origin_port" --write-key wk_load "${args[@]}" --server-pid "$origin_pid"
echo "## through the edge worker (wrangler dev on 127.0.0.1:$worker_port)"
before=$([ -n "$workerd_pid" ] && cpu_ticks "$workerd_pid" || echo 0)
started=$(date +%s.%N)
"$loadgen" --url "http://127.0.0.1:$worker_port" --write-key wk_load "${args[@]}" --server-pid "$origin_pid"
if [ -n "$workerd_pid" ]; then
  after=$(cpu_ticks "$workerd_pid")
  awk -v t="$(( after - before ))" -v hz="$(getconf CLK_TCK)" -v s="$started" -v e="$(date +%s.%N)" \
    'BEGIN { printf "| workerd CPU | %.2f s (%.0f %% of one core) |\n", t / hz, 100 * t / hz / (e - s) }'
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
