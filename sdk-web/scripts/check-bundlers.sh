#!/usr/bin/env bash
# Checks that the built package (sdk-web/pkg) type-checks for a strict TypeScript user, and bundles with
# Vite and with webpack 5: each builds the demo
# shop (examples/web) and must emit the .wasm as an asset beside the JavaScript. esbuild and a plain
# <script type="module"> are covered by scripts/budgets.sh and the end-to-end tests. The bundlers are
# installed with npm into $FOOTFALL_CACHE/web-bundlers, never into the repo.
set -euo pipefail
web="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../../scripts/env.sh
. "$web/../scripts/env.sh"
work="$FOOTFALL_CACHE/web-bundlers"
mkdir -p "$work"
sed "s#file:PKG#file:$web/pkg#" "$web/scripts/bundlers/package.json" >"$work/package.json.new"
if ! cmp -s "$work/package.json.new" "$work/package.json" || [ ! -d "$work/node_modules/vite" ]; then
  mv "$work/package.json.new" "$work/package.json"
  (cd "$work" && npm_config_cache="$FOOTFALL_CACHE/npm" npm install --no-audit --no-fund --loglevel=error)
fi
# The package is a file: dependency (a symlink): refresh nothing, it points at sdk-web/pkg.
rm -rf "$work/app" "$work/dist-vite" "$work/dist-webpack"
mkdir -p "$work/app"
cp "$web/../examples/web/index.html" "$web/../examples/web/shop.js" "$work/app/"
sed -i '/type="importmap"/d' "$work/app/index.html"
cp "$web/scripts/bundlers/vite.config.mjs" "$web/scripts/bundlers/webpack.config.mjs" "$work/"

cp "$web/scripts/bundlers/consumer.ts" "$web/scripts/bundlers/tsconfig.json" "$work/"
(cd "$work" && node_modules/.bin/tsc -p tsconfig.json)
echo "typescript: index.d.ts checks (strict)"

(cd "$work" && node_modules/.bin/vite build app --config vite.config.mjs --outDir ../dist-vite)
ls "$work"/dist-vite/assets/*.wasm >/dev/null || { echo "vite: no .wasm emitted" >&2; exit 1; }
echo "vite: ok ($(ls "$work"/dist-vite/assets | tr '\n' ' '))"

(cd "$work" && node_modules/.bin/webpack --config webpack.config.mjs --env entry=./app/shop.js \
  --env out="$work/dist-webpack" --no-stats)
ls "$work"/dist-webpack/*.wasm >/dev/null || { echo "webpack: no .wasm emitted" >&2; exit 1; }
echo "webpack: ok ($(ls "$work"/dist-webpack | tr '\n' ' '))"

sed 's#<script type="module" src="./shop.js"></script>#<script src="./shop.js"></script>#' "$work/app/index.html" \
  >"$work/dist-webpack/index.html"
node "$web/e2e/bundled.mjs" "vite=$work/dist-vite" "webpack=$work/dist-webpack"
