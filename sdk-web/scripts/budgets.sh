#!/usr/bin/env bash
# The web SDK's budgets, measured side by side with the JavaScript SDKs it replaces:
#
#   size:  an esbuild bundle of init + one track, minified, gzip -9 (for Footfall, plus the .wasm, gzip -9;
#          everything loaded eagerly). Budget: 18 KB.
#   speed: track() per call in headless Chromium over 10,000 calls (Footfall with IndexedDB persistence on;
#          the write-behind commit is timed separately). Budget: 5 µs.
#
# The competitors are installed with npm into the cache ($FOOTFALL_CACHE/web-budgets), never the repo.
# Usage: sdk-web/scripts/budgets.sh [CALLS]     (set FOOTFALL_WEB_SKIP_BUILD=1 to reuse sdk-web/pkg)
set -euo pipefail
web="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../../scripts/env.sh
. "$web/../scripts/env.sh"
calls="${1:-10000}"
[ -n "${FOOTFALL_WEB_SKIP_BUILD:-}" ] || "$web/scripts/build.sh" >&2
work="$FOOTFALL_CACHE/web-budgets"
mkdir -p "$work/out"
if ! cmp -s "$web/scripts/budgets/package.json" "$work/package.json" || [ ! -d "$work/node_modules" ]; then
  cp "$web/scripts/budgets/package.json" "$work/package.json"
  (cd "$work" && npm_config_cache="$FOOTFALL_CACHE/npm" npm install --no-audit --no-fund --loglevel=error >&2)
fi
esbuild="$web/e2e/node_modules/.bin/esbuild"
bundle() { # NAME ENTRY OUT
  NODE_PATH="$work/node_modules" "$esbuild" "$2" --bundle --minify --format=esm --platform=browser \
    --target=es2020 --log-level=error --alias:footfall="$web/pkg/index.js" --outfile="$3"
}
gz() { gzip -9c "$1" | wc -c; }
kb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1024 }'; }

printf '%-28s %10s %10s %10s %12s\n' "SDK (init + one track)" "min JS" "JS gz" "wasm gz" "total gz"
for sdk in footfall posthog segment rudderstack snowplow; do
  bundle "$sdk" "$web/scripts/budgets/$sdk.js" "$work/out/$sdk.js"
  bundle "$sdk" "$web/scripts/budgets/bench-$sdk.js" "$work/out/bench-$sdk.js"
  js=$(wc -c <"$work/out/$sdk.js")
  jsgz=$(gz "$work/out/$sdk.js")
  wasmgz=0
  if [ "$sdk" = footfall ]; then
    wasmgz=$(gz "$web/pkg/footfall_web_bg.wasm")
    cp "$web/pkg/footfall_web_bg.wasm" "$work/out/"
  fi
  printf '%-28s %8s KB %8s KB %8s KB %10s KB\n' "$sdk" "$(kb "$js")" "$(kb "$jsgz")" "$(kb "$wasmgz")" "$(kb $((jsgz + wasmgz)))"
done

echo
echo "track() in headless Chromium, $calls calls after 1,000 warm-up calls:"
node "$web/e2e/bench.mjs" "$work/out" "$calls" | node -e '
  const r = JSON.parse(require("fs").readFileSync(0, "utf8"));
  for (const [sdk, v] of Object.entries(r))
    console.log(sdk.padEnd(12), v.error ? "error: " + v.error : v.perCallUs.toFixed(2).padStart(8) + " µs/call" + (v.persistMs != null && sdk === "footfall" ? "   (then " + v.persistMs.toFixed(1) + " ms to commit the batch to IndexedDB)" : ""));'
