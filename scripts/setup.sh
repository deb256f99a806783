#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh machine of this kind (Debian, root, Rust by
# rustup, Java, Node, Python). Idempotent: a second run checks and does nothing.
#
# The Rust toolchain pieces are here; each part of the product that needs more (browsers, Kafka,
# ClickHouse, Kotlin) has its own script in scripts/setup.d/, run in name order.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
. "$here/env.sh"

# shellcheck source=lib/apt.sh
. "$here/lib/apt.sh"

step "rust toolchain components, ccache"
apt_install ccache
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy

# The embedded store links DuckDB's prebuilt library instead of compiling DuckDB's C++ (about 30
# CPU-minutes for each of the dev and release profiles).
step "prebuilt DuckDB (libduckdb from npm)"
"$here/lib/libduckdb.sh"

for part in "$here"/setup.d/*.sh; do
  [ -e "$part" ] || continue
  step "setup: $(basename "$part")"
  bash "$part"
done
