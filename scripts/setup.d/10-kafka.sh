#!/usr/bin/env bash
# Kafka: rdkafka is built from source (feature cmake-build), since Debian's librdkafka 2.0.2 is too old
# for it, with TLS from the system's OpenSSL (libssl-dev); the broker itself runs from Maven Central
# jars.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../env.sh
. "$here/env.sh"
# shellcheck source=../lib/apt.sh
. "$here/lib/apt.sh"
apt_install cmake libcurl4-openssl-dev libssl-dev pkg-config
"$here/infra/kafka.sh" install
