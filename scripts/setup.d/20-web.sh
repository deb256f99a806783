#!/usr/bin/env bash
# The web SDK's tools: the wasm32 target, wasm-bindgen-cli at exactly the lockfile's wasm-bindgen
# version, Debian's Chromium and ChromeDriver (headless browser tests), and from npm: wasm-opt (binaryen;
# never Debian's binaryen 108, whose output crashes Chromium), esbuild and playwright-core (driving
# /usr/bin/chromium; no browser is ever downloaded). Idempotent; npm's cache lives under $FOOTFALL_CACHE.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../env.sh
. "$here/env.sh"
# shellcheck source=../lib/apt.sh
. "$here/lib/apt.sh"
root="$(cd "$here/.." && pwd)"

rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$root/Cargo.lock")
have=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
if [ -n "$want" ] && [ "$have" != "$want" ]; then
  echo "installing wasm-bindgen-cli $want (have: ${have:-none})"
  CARGO_TARGET_DIR="$FOOTFALL_CACHE/target-web-tools" cargo install wasm-bindgen-cli --version "$want" --force
fi

apt_install chromium chromium-driver

export npm_config_cache="$FOOTFALL_CACHE/npm"
tools="$root/sdk-web/e2e"
stamp="$tools/node_modules/.footfall-installed"
if [ ! -f "$stamp" ] || [ "$tools/package.json" -nt "$stamp" ]; then
  (cd "$tools" && npm install --no-audit --no-fund --loglevel=error)
  touch "$stamp"
fi
