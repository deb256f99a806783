#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh machine of this kind (Debian, root, Rust by
# rustup, Java, Node, Python). Idempotent: a second run checks and does nothing.
#
#   scripts/setup.sh            everything the tests need
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
. "$here/env.sh"

apt_packages=()
need_apt() { dpkg -s "$1" >/dev/null 2>&1 || apt_packages+=("$1"); }

step "rust toolchain components"
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy

# rdkafka is built from source (feature cmake-build): Debian's librdkafka 2.0.2 is too old for it.
need_apt cmake
need_apt libcurl4-openssl-dev
need_apt pkg-config
if ((${#apt_packages[@]})); then
  step "apt: ${apt_packages[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${apt_packages[@]}" >/dev/null
fi

step "Kafka broker jars (Maven Central)"
"$here/infra/kafka.sh" install
