# shellcheck shell=bash
# Sourced: where the JVM jars live (fetched by scripts/setup.d/30-mobile.sh) and `kotlin_compile`, which
# compiles Kotlin sources with the embeddable compiler (no Gradle: its distribution is not on Maven
# Central). Compiling is skipped when the sources and jars are unchanged since the last run.
export FOOTFALL_CACHE="${FOOTFALL_CACHE:-$HOME/.cache/footfall}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$FOOTFALL_CACHE/target}"
export FOOTFALL_MOBILE_JVM="$FOOTFALL_CACHE/mobile-jvm"
KOTLIN_COMPILER_CP="$FOOTFALL_MOBILE_JVM/compiler/*"
KOTLIN_RUNTIME_CP="$(find "$FOOTFALL_MOBILE_JVM/runtime" -name '*.jar' 2>/dev/null | sort | paste -sd: -)"
export KOTLIN_RUNTIME_CP

# kotlin_compile OUT_DIR SOURCE_DIR...
kotlin_compile() {
  local out="$1"
  shift
  if [ -z "$KOTLIN_RUNTIME_CP" ]; then
    echo "Kotlin jars missing under $FOOTFALL_MOBILE_JVM: run scripts/setup.d/30-mobile.sh" >&2
    return 1
  fi
  local stamp
  stamp="$( (find "$@" -name '*.kt' -type f -print0 | sort -z | xargs -0 sha256sum; echo "$KOTLIN_RUNTIME_CP") | sha256sum | cut -c1-16)"
  if [ -f "$out/.stamp" ] && [ "$(cat "$out/.stamp")" = "$stamp" ]; then
    return 0
  fi
  rm -rf "$out"
  mkdir -p "$out"
  java -cp "$KOTLIN_COMPILER_CP" org.jetbrains.kotlin.cli.jvm.K2JVMCompiler \
    -no-stdlib -no-reflect -nowarn -jvm-target 17 -cp "$KOTLIN_RUNTIME_CP" -d "$out" "$@"
  echo "$stamp" >"$out/.stamp"
}
