#!/usr/bin/env bash
# Backend checks beyond `cargo test --workspace`:
#  1. the conformance dataset is loaded into DuckDB and every query's rows are written out with the
#     ClickHouse DDL and SQL (a footfall-store test, with FOOTFALL_CONFORMANCE_OUT set);
#  2. backend/store/chdb_check.py runs every DDL statement and query on chDB (current ClickHouse)
#     and on the real ClickHouse 18.16 server, and checks each answer equals DuckDB's.
#  3. the same conformance suite through both Rust stores, and end-to-end runs (log → processor →
#     ClickHouse with a 30 s outage; Kafka consumer group → processor → ClickHouse).
# The servers are started idempotently by scripts/infra/clickhouse.sh and stopped at the end, also
# when a check fails.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../env.sh
. "$here/env.sh"
repo="$(cd "$here/.." && pwd)"
cd "$repo"

clickhouse="$here/infra/clickhouse.sh"
kafka="$here/infra/kafka.sh"
trap '"$clickhouse" stop || true; "$kafka" stop || true' EXIT

step "backend: start ClickHouse 18.16"
"$clickhouse" start
eval "$("$clickhouse" env)"

# Every cargo command here selects the whole workspace, as the main test step does, so the feature
# set (and DuckDB's build) is the one already built; the tests that need servers are #[ignore]d
# in a plain `cargo test` and run here with --ignored.
out="$FOOTFALL_STATE/backend-conformance.json"
mkdir -p "$FOOTFALL_STATE"
step "backend: conformance dataset on DuckDB → $out"
FOOTFALL_CONFORMANCE_OUT="$out" cargo test --workspace --locked --lib -- conformance_dataset_answers_are_exact

step "backend: every ClickHouse DDL statement and query on chDB and ClickHouse 18.16, answers = DuckDB's"
"${PYTHON:-python3}" backend/store/chdb_check.py "$out" --server "$CLICKHOUSE_URL"

step "backend: conformance suite on DuckDB and ClickHouse 18.16 (both Store implementations)"
cargo test --workspace --locked --test clickhouse -- --ignored

step "backend: end to end on ClickHouse 18.16 (duplicates, late backlog, identify, 30 s outage)"
cargo test --workspace --locked --test clickhouse_e2e -- --ignored

step "backend: end to end Kafka consumer group → processor → ClickHouse"
"$kafka" start
cargo test --workspace --locked --test kafka_e2e -- --ignored
