#!/usr/bin/env bash
# The main job on the embedded default, with no servers to install.
#
# Today: the SDK engine through a simulated day of flaky mobile networking and app kills, showing that
# every event is delivered or counted as dropped. Extra arguments go to the simulation (--help lists them).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
. "$here/env.sh"
cd "$here/.."
cargo run --quiet --release --locked -p footfall-example-offline-queue -- "$@"
