#!/usr/bin/env bash
# Builds the npm package into sdk-web/pkg: the wasm (release, size-optimized, feature `npm`: no_std with
# a trapping panic handler), wasm-bindgen's ES module glue (--target web: works in Vite, webpack 5,
# esbuild and a plain <script type="module">), wasm-opt -Oz, and the hand-written index.js / io.js /
# index.d.ts / package.json from sdk-web/npm and sdk-web/js.
#
# Needs what scripts/setup.d/20-web.sh installs: the wasm32 target, wasm-bindgen-cli at the lockfile's
# version, and wasm-opt from npm's binaryen (never Debian's binaryen 108, whose output crashes Chromium).
#
# Size flags: Cargo profiles are workspace-level, so instead of a [profile] in the root Cargo.toml the
# release profile is overridden here with --config, for this build only.
set -euo pipefail
web="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
root="$(cd "$web/.." && pwd)"
# shellcheck source=../../scripts/env.sh
. "$root/scripts/env.sh"
export CARGO_TARGET_DIR="${FOOTFALL_WEB_TARGET:-$FOOTFALL_CACHE/target-web}"
cd "$root"

opt="${FOOTFALL_WEB_OPT_LEVEL:-z}"
case "$opt" in [0-3]) opt_value="$opt" ;; *) opt_value="\"$opt\"" ;; esac
cargo build -p footfall-web --features npm --target wasm32-unknown-unknown --release \
  --config "profile.release.opt-level=$opt_value" \
  --config 'profile.release.lto=true' \
  --config 'profile.release.codegen-units=1' \
  --config 'profile.release.panic="abort"' \
  --config 'profile.release.debug=false'

out="$web/pkg"
rm -rf "$out"
mkdir -p "$out"
raw="$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/footfall_web.wasm"
wasm-bindgen --target web --no-typescript --out-dir "$out" --out-name footfall_web "$raw"
# Keep the named, unoptimized wasm next to the target for size analysis (twiggy top / dominators).
cp "$out/footfall_web_bg.wasm" "$CARGO_TARGET_DIR/footfall_web_bg.named.wasm"
"$web/e2e/node_modules/.bin/wasm-opt" "-O$opt" --converge --strip-debug --strip-producers --strip-target-features \
  "$out/footfall_web_bg.wasm" -o "$out/footfall_web_bg.wasm"
cp "$web/npm/index.js" "$web/npm/index.d.ts" "$web/npm/package.json" "$web/npm/README.md" "$web/js/io.js" "$out/"
printf 'built %s: wasm %s bytes (%s gzipped)\n' "$out" \
  "$(wc -c <"$out/footfall_web_bg.wasm")" "$(gzip -9c "$out/footfall_web_bg.wasm" | wc -c)"
