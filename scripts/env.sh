# Sourced by the other scripts: where builds and caches live, outside the clone, so a machine that has
# built once builds again fast.
export FOOTFALL_CACHE="${FOOTFALL_CACHE:-$HOME/.cache/footfall}"
export FOOTFALL_STATE="${FOOTFALL_STATE:-$FOOTFALL_CACHE/state}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$FOOTFALL_CACHE/target}"
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

# step NAME: prints a header so a CI log shows where time went.
step() { printf '\n==> %s (%s)\n' "$*" "$(date -u +%H:%M:%S)"; }
