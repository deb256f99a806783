#!/usr/bin/env bash
# Third-party analytics clients run against the collector (edge-collector/real-clients): from npm, at
# the versions in its package-lock, Segment's @segment/analytics-next, RudderStack's
# @rudderstack/analytics-js, esbuild (bundles them for the page) and playwright-core (driving Debian's
# Chromium; no browser is ever downloaded). Idempotent; npm's
# cache lives under $FOOTFALL_CACHE.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../env.sh
. "$here/env.sh"
# shellcheck source=../lib/apt.sh
. "$here/lib/apt.sh"
root="$(cd "$here/.." && pwd)"

# 20-web.sh installs it too; here so that this part stands alone.
apt_install chromium

export npm_config_cache="$FOOTFALL_CACHE/npm"
tools="$root/edge-collector/real-clients"
stamp="$tools/node_modules/.footfall-installed"
if [ ! -f "$stamp" ] || [ "$tools/package.json" -nt "$stamp" ] || [ "$tools/package-lock.json" -nt "$stamp" ]; then
  (cd "$tools" && npm ci --no-audit --no-fund --loglevel=error)
  touch "$stamp"
fi
