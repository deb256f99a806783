#!/usr/bin/env bash
# Kafka delivery (footfall-kafka) and the collector's Kafka sink against a real broker: starts the
# single-node broker from scripts/infra/kafka.sh (idempotent), runs the tests behind the
# kafka-integration-tests feature (round trips, a 30 s broker outage under load for each, the spill disk
# budget), and stops the broker afterwards, also when a test fails. The outage test stops and restarts the broker itself: nothing else may use it
# meanwhile.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../env.sh
. "$here/env.sh"
repo="$(cd "$here/.." && pwd)"
cd "$repo"

kafka="$here/infra/kafka.sh"
trap '"$kafka" stop || true' EXIT

step "kafka: start the broker"
# Every run leaves its uniquely named test topics behind; none is needed later, so a crowded state is
# wiped before the first start. Only here: the outage tests restart the broker mid-test.
FOOTFALL_KAFKA_MAX_PARTITION_DIRS=1000 "$kafka" start

step "kafka: footfall-kafka and collector integration tests"
# Cargo runs test binaries one after another, so the outage tests never stop the broker under
# another test.
cargo test --locked -p footfall-kafka -p footfall-collector --features kafka-integration-tests
