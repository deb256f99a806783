#!/usr/bin/env bash
# Builds FootfallMobileFFI.xcframework (static libraries for iOS devices, the simulators and macOS,
# with the generated C header and module map) into sdk-mobile/ios/, where Package.swift expects it.
# Needs macOS with Xcode and the Rust targets:
#   rustup target add aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios aarch64-apple-darwin x86_64-apple-darwin
# Not run in CI: there is no Swift toolchain there; CI diffs the generated Swift instead. See docs/mobile.md.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}"
export IPHONEOS_DEPLOYMENT_TARGET="${IPHONEOS_DEPLOYMENT_TARGET:-13.0}"
export MACOSX_DEPLOYMENT_TARGET="${MACOSX_DEPLOYMENT_TARGET:-11.0}"

# Size: the app ships this library, so build it small (the workspace's release profile keeps line
# tables for server backtraces). Panics must unwind: UniFFI turns them into exceptions.
export CARGO_PROFILE_RELEASE_LTO=true CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
  CARGO_PROFILE_RELEASE_OPT_LEVEL=s CARGO_PROFILE_RELEASE_STRIP=true CARGO_PROFILE_RELEASE_DEBUG=false
targets=(aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios aarch64-apple-darwin x86_64-apple-darwin)
for target in "${targets[@]}"; do
  cargo build --release --locked -p footfall-mobile --lib --target "$target"
done

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
lib=libfootfall_mobile.a
mkdir -p "$out/ios-sim" "$out/macos" "$out/headers"
lipo -create -output "$out/ios-sim/$lib" \
  "$CARGO_TARGET_DIR/aarch64-apple-ios-sim/release/$lib" "$CARGO_TARGET_DIR/x86_64-apple-ios/release/$lib"
lipo -create -output "$out/macos/$lib" \
  "$CARGO_TARGET_DIR/aarch64-apple-darwin/release/$lib" "$CARGO_TARGET_DIR/x86_64-apple-darwin/release/$lib"
cp sdk-mobile/ios/Headers/FootfallMobileFFI.h "$out/headers/"
# Xcode looks for module.modulemap by that name inside an XCFramework's headers.
cp sdk-mobile/ios/Headers/FootfallMobileFFI.modulemap "$out/headers/module.modulemap"

rm -rf sdk-mobile/ios/FootfallMobileFFI.xcframework
xcodebuild -create-xcframework \
  -library "$CARGO_TARGET_DIR/aarch64-apple-ios/release/$lib" -headers "$out/headers" \
  -library "$out/ios-sim/$lib" -headers "$out/headers" \
  -library "$out/macos/$lib" -headers "$out/headers" \
  -output sdk-mobile/ios/FootfallMobileFFI.xcframework
echo "built sdk-mobile/ios/FootfallMobileFFI.xcframework; try it with: cd sdk-mobile/ios && swift build"
