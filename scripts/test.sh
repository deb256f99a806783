#!/usr/bin/env bash
# The test command: installs what the tests need, then runs formatting, lints and every test.
# Works on a fresh machine; a machine that has run it once runs it again fast (builds are cached in
# $CARGO_TARGET_DIR, default ~/.cache/footfall/target).
#
# After the Rust workspace, each part with tests outside cargo (browser, Kotlin, services) has a script
# in scripts/test.d/, run in name order.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
. "$here/env.sh"
cd "$here/.."

"$here/setup.sh"
# Again: setup may have installed what env.sh configures (ccache).
. "$here/env.sh"

# Every clone at a new path leaves its own incremental-compilation caches in the shared target
# directory, and nothing reuses them: 596 of them (9 GB, within two days) had piled up by 2026-12-07.
# Caches untouched for 12 hours are dropped; cargo makes new ones as it needs them.
for incremental in "$CARGO_TARGET_DIR"/*/incremental; do
  [ -d "$incremental" ] || continue
  find "$incremental" -mindepth 1 -maxdepth 1 -mmin +720 -exec rm -rf {} +
done

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test"
cargo test --workspace --locked

for part in "$here"/test.d/*.sh; do
  [ -e "$part" ] || continue
  step "test: $(basename "$part")"
  bash "$part"
done
