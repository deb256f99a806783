#!/usr/bin/env bash
# Builds the Footfall library and this example, then runs it: ./run.sh COLLECTOR_URL [WRITE_KEY] [DATABASE]
# Needs the jars fetched by scripts/setup.d/30-mobile.sh (Kotlin compiler, stdlib, JNA).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=../../sdk-mobile/scripts/jvm-env.sh
. "$repo/sdk-mobile/scripts/jvm-env.sh"

cargo build --quiet --locked --release -p footfall-mobile --lib --manifest-path "$repo/Cargo.toml"
out="$FOOTFALL_MOBILE_JVM/example-classes"
kotlin_compile "$out" \
  "$repo/sdk-mobile/android/src/main/kotlin" "$repo/examples/kotlin-jvm/src/main/kotlin"
exec java -Djna.library.path="$CARGO_TARGET_DIR/release" -cp "$out:$KOTLIN_RUNTIME_CP" MainKt "$@"
