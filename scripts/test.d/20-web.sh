#!/usr/bin/env bash
# The web SDK: builds the npm package (release wasm), runs the wasm-bindgen tests in headless Chromium
# (storage conformance over IndexedDB and localStorage), then the Playwright end-to-end tests against a
# real footfall-collector (memory sink) behind the harness's first-party proxy (sdk-web/e2e/server.mjs).
# Tools come from scripts/setup.d/20-web.sh.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../env.sh
. "$here/env.sh"
root="$(cd "$here/.." && pwd)"
cd "$root"

step "web: the slim core the wasm is built from (footfall-core and -protocol without default features)"
# `cargo test --workspace` runs them with their defaults (std, serde, http-date); the web SDK uses
# neither serde nor std, so that build is linted and tested on its own, natively and for wasm32.
web_target="${FOOTFALL_WEB_TARGET:-$FOOTFALL_CACHE/target-web}"
CARGO_TARGET_DIR="$web_target" cargo clippy --locked -p footfall-core -p footfall-protocol --no-default-features \
  --all-targets -- -D warnings
CARGO_TARGET_DIR="$web_target" cargo test --locked -p footfall-core -p footfall-protocol --no-default-features
CARGO_TARGET_DIR="$web_target" cargo clippy --locked -p footfall-web --features npm \
  --target wasm32-unknown-unknown --lib -- -D warnings

step "web: build the package (wasm release, wasm-opt)"
sdk-web/scripts/build.sh

step "web: wasm-bindgen tests in headless Chromium"
CARGO_TARGET_DIR="${FOOTFALL_WEB_TARGET:-$FOOTFALL_CACHE/target-web}" \
  CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
  CHROMEDRIVER=/usr/bin/chromedriver WASM_BINDGEN_TEST_TIMEOUT=120 \
  cargo test -p footfall-web --target wasm32-unknown-unknown --test browser

step "web: end-to-end tests (Playwright, Chromium, footfall-collector)"
# shellcheck source=../lib/test-collector.sh
. "$here/lib/test-collector.sh"
start_collector web-plain
plain="$origin"
start_collector web-limited --rate-limit-events-per-sec 1 --rate-limit-burst 2
limited="$origin"
FOOTFALL_COLLECTOR_URL="$plain" FOOTFALL_COLLECTOR_LIMITED_URL="$limited" node --test --test-concurrency=1 sdk-web/e2e/web.test.mjs

step "web: the package in Vite and webpack builds"
sdk-web/scripts/check-bundlers.sh
