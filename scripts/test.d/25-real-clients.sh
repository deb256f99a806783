#!/usr/bin/env bash
# Third-party clients against a real footfall-collector (memory sink), from npm, in headless Chromium:
# Segment's analytics-next, configured with nothing but `cdnURL` = the collector, and RudderStack's
# JavaScript SDK (its bundled build), with the data plane and `configUrl` = the collector. Each must load
# its settings from the collector, send its events there (stored, as the collector's live-events stream
# shows) and nothing to Segment or RudderStack. A second, rate-limited collector exercises both SDKs'
# retries after a 429.
# Tools come from scripts/setup.d/25-real-clients.sh.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../env.sh
. "$here/env.sh"
root="$(cd "$here/.." && pwd)"
cd "$root"

step "real clients: analytics-next (Segment) and RudderStack against footfall-collector in Chromium"
# shellcheck source=../lib/test-collector.sh
. "$here/lib/test-collector.sh"
token=$(python3 -c 'import secrets; print(secrets.token_hex(24))')
start_collector real-clients --live-events-token "$token"
plain="$origin"
start_collector real-clients-limited --live-events-token "$token" --rate-limit-events-per-sec 1 --rate-limit-burst 1
limited="$origin"
FOOTFALL_COLLECTOR_URL="$plain" FOOTFALL_COLLECTOR_LIMITED_URL="$limited" FOOTFALL_LIVE_EVENTS_TOKEN="$token" \
  node --test --test-concurrency=1 edge-collector/real-clients/
