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

edge_build_worker
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
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "## straight to the origin (127.0.0.1:$origin_port)"
"$loadgen" --url "http://127.0.0.1:$origin_port" --write-key wk_load "${args[@]}" --server-pid "$origin_pid"
echo "## through the edge worker (wrangler dev on 127.0.0.1:$worker_port)"
"$loadgen" --url "http://127.0.0.1:$worker_port" --write-key wk_load "${args[@]}" --server-pid "$origin_pid"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
