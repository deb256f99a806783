#!/usr/bin/env bash
# Backend checks beyond `cargo test --workspace`:
#  1. the conformance dataset is loaded into DuckDB and every query's rows are written out with the
#     ClickHouse DDL and SQL (footfall-store test, FOOTFALL_CONFORMANCE_OUT);
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

out="$FOOTFALL_STATE/backend-conformance.json"
mkdir -p "$FOOTFALL_STATE"
step "backend: conformance dataset on DuckDB → $out"
FOOTFALL_CONFORMANCE_OUT="$out" cargo test --locked -p footfall-store --lib conformance_dataset_answers_are_exact

step "backend: every ClickHouse DDL statement and query on chDB and ClickHouse 18.16, answers = DuckDB's"
"${PYTHON:-python3}" backend/store/chdb_check.py "$out" --server "${CLICKHOUSE_URL:-http://127.0.0.1:${FOOTFALL_CLICKHOUSE_HTTP_PORT:-18123}}"

step "backend: conformance suite on DuckDB and ClickHouse 18.16 (footfall-store clickhouse-integration-tests)"
CLICKHOUSE_URL="${CLICKHOUSE_URL:-http://127.0.0.1:18123}" cargo test --locked -p footfall-store --features clickhouse-integration-tests --test clickhouse

step "backend: end to end on ClickHouse 18.16 (duplicates, late backlog, identify, 30 s outage)"
CLICKHOUSE_URL="${CLICKHOUSE_URL:-http://127.0.0.1:18123}" cargo test --locked -p footfall-processor --features clickhouse-integration-tests --test clickhouse_e2e

step "backend: end to end Kafka → processor → ClickHouse"
"$kafka" start
CLICKHOUSE_URL="${CLICKHOUSE_URL:-http://127.0.0.1:18123}" cargo test --locked -p footfall-processor --features kafka-integration-tests --test kafka_e2e
