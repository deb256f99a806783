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

# shellcheck source=lib/tidy-target.sh
. "$here/lib/tidy-target.sh"
tidy_target "$CARGO_TARGET_DIR" "${FOOTFALL_MIN_FREE_GIB:-20}"

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
