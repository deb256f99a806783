#!/usr/bin/env bash
# The main job on the embedded default, with no servers to install: `footfall demo`.
#
# It starts the whole pipeline in one process (collector → embedded log → processor → DuckDB →
# query API), feeds two weeks of synthetic e-commerce journeys through the real SDK engine over
# HTTP (late mobile backlogs, retried batches, logins on a second device, a few invalid messages),
# checks that every recorded event was stored exactly once, and prints a funnel and a retention
# table. Extra arguments go to `footfall demo` (`scripts/run.sh --help` lists them), e.g.
# `scripts/run.sh --visitors 2000` or `scripts/run.sh --data-dir ./footfall-data` to keep the data
# and query it afterwards with `footfall query`.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
. "$here/env.sh"
cd "$here/.."
# DuckDB's prebuilt library, fetched once (seconds); where it cannot be (no npm, no network, no
# build for this platform) DuckDB is compiled from source instead, which takes many minutes.
features=()
if ! "$here/lib/libduckdb.sh"; then
  echo "[run] compiling DuckDB from source instead (--features footfall/bundled-duckdb): this takes a while" >&2
  features=(--features footfall/bundled-duckdb)
fi
cargo run --quiet --release --locked -p footfall "${features[@]}" -- demo "$@"
