# Sourced by the other scripts: where builds and caches live, outside the clone, so a machine that has
# built once builds again fast.
export FOOTFALL_CACHE="${FOOTFALL_CACHE:-$HOME/.cache/footfall}"
export FOOTFALL_STATE="${FOOTFALL_STATE:-$FOOTFALL_CACHE/state}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$FOOTFALL_CACHE/target}"
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

# The embedded store links DuckDB's prebuilt library, fetched here by scripts/lib/libduckdb.sh
# (scripts/setup.sh and scripts/run.sh run it). Test binaries and `cargo run` find it through the
# loader path; the `footfall` binary also carries it as its rpath (backend/cli/build.rs).
export FOOTFALL_DUCKDB_DIR="${FOOTFALL_DUCKDB_DIR:-$FOOTFALL_CACHE/libduckdb-1.5.6}"
export DUCKDB_LIB_DIR="${DUCKDB_LIB_DIR:-$FOOTFALL_DUCKDB_DIR}"
case ":${LD_LIBRARY_PATH:-}:" in
  *":$DUCKDB_LIB_DIR:"*) ;;
  *) export LD_LIBRARY_PATH="$DUCKDB_LIB_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ;;
esac
case ":${DYLD_LIBRARY_PATH:-}:" in
  *":$DUCKDB_LIB_DIR:"*) ;;
  *) export DYLD_LIBRARY_PATH="$DUCKDB_LIB_DIR${DYLD_LIBRARY_PATH:+:$DYLD_LIBRARY_PATH}" ;;
esac

# step NAME: prints a header so a CI log shows where time went.
step() { printf '\n==> %s (%s)\n' "$*" "$(date -u +%H:%M:%S)"; }

# C and C++ compiled by build scripts (librdkafka, mimalloc, and DuckDB's amalgamation when it is
# built from source: ~30 CPU-minutes) go through ccache when it is installed (scripts/setup.sh
# installs it). A build script that reruns, because `-p` picked a different feature set or a
# dependency changed, then takes cached objects instead of compiling again.
if command -v ccache >/dev/null 2>&1; then
  export CCACHE_DIR="${CCACHE_DIR:-$FOOTFALL_CACHE/ccache}"
  export CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-8G}"
  export CCACHE_NOHASHDIR=1
  # Host builds only: wasm32 builds must keep their own compilers.
  export CC_x86_64_unknown_linux_gnu="${CC_x86_64_unknown_linux_gnu:-ccache gcc}"
  export CXX_x86_64_unknown_linux_gnu="${CXX_x86_64_unknown_linux_gnu:-ccache g++}"
fi
