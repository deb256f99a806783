#!/usr/bin/env bash
# Builds libfootfall_mobile.so for the Android ABIs into sdk-mobile/android/src/main/jniLibs, then the
# AAR with Gradle. Needs: the Android NDK (ANDROID_NDK_HOME), cargo-ndk (`cargo install cargo-ndk`),
# the Rust targets (`rustup target add aarch64-linux-android armv7-linux-androideabi
# x86_64-linux-android i686-linux-android`) and Gradle 8 (or a wrapper: `gradle wrapper` once).
# Not run in CI: this machine has no Android SDK. See docs/mobile.md.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
# Size: the app ships this library, so build it small (the workspace's release profile keeps line
# tables for server backtraces). Panics must unwind: UniFFI turns them into exceptions.
export CARGO_PROFILE_RELEASE_LTO=true CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
  CARGO_PROFILE_RELEASE_OPT_LEVEL=s CARGO_PROFILE_RELEASE_STRIP=true CARGO_PROFILE_RELEASE_DEBUG=false
cargo ndk \
  -t arm64-v8a -t armeabi-v7a -t x86_64 -t x86 \
  --platform 23 \
  -o sdk-mobile/android/src/main/jniLibs \
  build --release --locked -p footfall-mobile --lib
cd sdk-mobile/android
if [ -x ./gradlew ]; then ./gradlew assembleRelease; else gradle assembleRelease; fi
ls -l build/outputs/aar/
