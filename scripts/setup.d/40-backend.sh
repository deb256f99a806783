#!/usr/bin/env bash
# Backend (footfall-store/-processor/-api, the `footfall` binary): ClickHouse 18.16 from Debian for
# the real-server checks and PyPI chdb (current ClickHouse, in-process) for the DDL/query check.
# DuckDB itself is DuckDB's prebuilt library, which scripts/setup.sh fetches first (the workspace's
# `cargo test` links it).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../env.sh
. "$here/env.sh"
"$here/infra/clickhouse.sh" install
