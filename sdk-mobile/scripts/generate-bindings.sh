#!/usr/bin/env bash
# Generates the Kotlin and Swift bindings of footfall-mobile from the built library (UniFFI library
# mode: the proc-macro metadata in the .so is the only interface definition) and writes them where the
# Android library and the Swift package expect them:
#
#   sdk-mobile/android/src/main/kotlin/dev/footfall/mobile/footfall_mobile.kt
#   sdk-mobile/ios/Sources/FootfallMobile/FootfallMobile.swift
#   sdk-mobile/ios/Headers/{FootfallMobileFFI.h, FootfallMobileFFI.modulemap}  (packed into the XCFramework)
#
# Usage: generate-bindings.sh [--check]
#   --check  regenerate into a temporary directory and fail, showing the diff, if the committed copies
#            differ (CI runs this: there is no Swift compiler here, so the diff is how iOS is checked).
# Environment: FOOTFALL_MOBILE_LIB, a built libfootfall_mobile.so/.dylib to read (default: build one).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${FOOTFALL_CACHE:-$HOME/.cache/footfall}/target}"

check=false
[ "${1:-}" = "--check" ] && check=true

cargo build --quiet --locked -p footfall-mobile --features bindgen --bin uniffi-bindgen
bindgen="$CARGO_TARGET_DIR/debug/uniffi-bindgen"
lib="${FOOTFALL_MOBILE_LIB:-}"
if [ -z "$lib" ]; then
  cargo build --quiet --locked --release -p footfall-mobile --lib
  case "$(uname -s)" in
    Darwin) lib="$CARGO_TARGET_DIR/release/libfootfall_mobile.dylib" ;;
    *) lib="$CARGO_TARGET_DIR/release/libfootfall_mobile.so" ;;
  esac
fi

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
# --no-format: ktlint and swiftformat are not installed everywhere, and the output must not depend on it.
"$bindgen" generate --library "$lib" --language kotlin --language swift --no-format --out-dir "$out" >/dev/null

staged="$out/staged"
mkdir -p "$staged/android/src/main/kotlin/dev/footfall/mobile" \
  "$staged/ios/Sources/FootfallMobile" "$staged/ios/Headers"
cp "$out/dev/footfall/mobile/footfall_mobile.kt" "$staged/android/src/main/kotlin/dev/footfall/mobile/"
cp "$out/FootfallMobile.swift" "$staged/ios/Sources/FootfallMobile/"
cp "$out/FootfallMobileFFI.h" "$out/FootfallMobileFFI.modulemap" "$staged/ios/Headers/"

files=(
  android/src/main/kotlin/dev/footfall/mobile/footfall_mobile.kt
  ios/Sources/FootfallMobile/FootfallMobile.swift
  ios/Headers/FootfallMobileFFI.h
  ios/Headers/FootfallMobileFFI.modulemap
)
if $check; then
  stale=0
  for f in "${files[@]}"; do
    if ! diff -u "sdk-mobile/$f" "$staged/$f" >"$out/diff" 2>&1; then
      echo "generated bindings are stale: sdk-mobile/$f differs from what footfall-mobile generates now" >&2
      head -n 40 "$out/diff" >&2
      stale=1
    fi
  done
  if [ "$stale" = 1 ]; then
    echo "run sdk-mobile/scripts/generate-bindings.sh and commit the result" >&2
    exit 1
  fi
  echo "generated Kotlin and Swift bindings match the committed copies"
else
  for f in "${files[@]}"; do
    mkdir -p "sdk-mobile/$(dirname "$f")"
    cp "$staged/$f" "sdk-mobile/$f"
  done
  echo "wrote ${#files[@]} generated files under sdk-mobile/"
fi
