#!/usr/bin/env bash
# Fetches DuckDB's own prebuilt libduckdb (the version footfall-store's `duckdb` crate is pinned to)
# into $FOOTFALL_CACHE/libduckdb-<version>/, so the embedded store links it instead of compiling
# DuckDB's C++ for half an hour. DuckDB publishes the library for each platform on npm, inside
# `@duckdb/node-bindings-<platform>`; npm checks the tarball against the registry's integrity hash.
# Idempotent: nothing is fetched when the library is already there. Exits non-zero, saying why,
# when it cannot be fetched (no npm, no package for this platform, no network): the caller then
# builds with `--features footfall/bundled-duckdb`.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../env.sh
. "$here/env.sh"

# Keep in step with backend/store/Cargo.toml (duckdb =1.10506.1 is DuckDB 1.5.6).
package_version="1.5.6-r.1"
dir="$FOOTFALL_DUCKDB_DIR"

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) platform=linux-x64 lib=libduckdb.so ;;
  Linux-aarch64) platform=linux-arm64 lib=libduckdb.so ;;
  Darwin-arm64) platform=darwin-arm64 lib=libduckdb.dylib ;;
  Darwin-x86_64) platform=darwin-x64 lib=libduckdb.dylib ;;
  *) echo "[libduckdb] no prebuilt DuckDB for $(uname -s)-$(uname -m)" >&2; exit 1 ;;
esac

# A plain `cargo` command, run without scripts/env.sh, finds the library through this link in the
# clone (.cargo/config.toml points DUCKDB_LIB_DIR and the loader path at it).
link_in_clone() {
  mkdir -p "$here/../.footfall"
  ln -sfn "$dir" "$here/../.footfall/libduckdb"
}

if [ -f "$dir/$lib" ]; then
  link_in_clone
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "[libduckdb] npm is not installed: cannot fetch @duckdb/node-bindings-$platform" >&2
  exit 1
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "[libduckdb] fetching @duckdb/node-bindings-$platform@$package_version from npm"
(cd "$tmp" && npm pack --silent "@duckdb/node-bindings-$platform@$package_version" >/dev/null)
tar -xzf "$tmp"/*.tgz -C "$tmp" package/$lib package/LICENSE
mkdir -p "$dir.partial"
mv "$tmp/package/$lib" "$tmp/package/LICENSE" "$dir.partial/"
# Linked by its soname on macOS and Linux alike.
rm -rf "$dir" && mv "$dir.partial" "$dir"
link_in_clone
echo "[libduckdb] $dir/$lib"
