#!/usr/bin/env bash
# The edge worker's tools: the wasm32 target, wasm-bindgen-cli at exactly the lockfile's wasm-bindgen
# version and worker-build at the lockfile's `worker` version (both from crates.io: worker-build would
# otherwise download wasm-bindgen and wasm-opt from GitHub), and from npm (edge-collector/worker's
# package-lock): wrangler with workerd, binaryen's wasm-opt and esbuild. Idempotent and offline on a
# second run; npm's cache lives under $FOOTFALL_CACHE.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../env.sh
. "$here/env.sh"
root="$(cd "$here/.." && pwd)"

rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

# lock_version NAME: the version of crate NAME in Cargo.lock.
lock_version() { awk -v n="name = \"$1\"" '$0 == n { getline; gsub(/version = |"/, ""); print; exit }' "$root/Cargo.lock"; }
tools_target="$FOOTFALL_CACHE/target-web-tools"

want=$(lock_version wasm-bindgen)
have=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
if [ -n "$want" ] && [ "$have" != "$want" ]; then
  echo "installing wasm-bindgen-cli $want (have: ${have:-none})"
  CARGO_TARGET_DIR="$tools_target" cargo install wasm-bindgen-cli --version "$want" --force
fi

want=$(lock_version worker)
have=$(worker-build --version 2>/dev/null || true)
if [ -n "$want" ] && [ "$have" != "$want" ]; then
  echo "installing worker-build $want (have: ${have:-none})"
  CARGO_TARGET_DIR="$tools_target" cargo install worker-build --version "$want" --locked --force
fi

export npm_config_cache="$FOOTFALL_CACHE/npm"
tools="$root/edge-collector/worker"
stamp="$tools/node_modules/.footfall-installed"
if [ ! -f "$stamp" ] || [ "$tools/package-lock.json" -nt "$stamp" ]; then
  (cd "$tools" && npm ci --no-audit --no-fund --loglevel=error)
  touch "$stamp"
fi
# workerd is a native binary from npm (@cloudflare/workerd-linux-64); check that it runs here.
"$tools/node_modules/.bin/workerd" --version >/dev/null
