# Sourced by scripts/test.sh: keeps the shared cargo target directory from filling the disk.
#
# The target directory is shared by every clone and every feature set, and cargo never deletes what it
# no longer uses. By 2026-12-07 it held 62 GB (22 GB of incremental caches, 26 GB of 512 test
# executables, most of them built against an older Cargo.lock or feature set) with 3 GB left on the
# disk, which the next build or broker log would have filled.

# tidy_target DIR MIN_FREE_GIB: drops incremental caches untouched for 12 hours (each clone at a new
# path leaves its own, and nothing reuses them); then, if the disk still has less than MIN_FREE_GIB
# free, every incremental cache and all but the two newest executables of each test target. Cargo
# rebuilds anything it needs again: the price is a slower build, never a failed one.
tidy_target() {
  local target="$1" min_free_gib="$2" incremental deps
  [ -d "$target" ] || return 0
  for incremental in "$target"/*/incremental; do
    [ -d "$incremental" ] || continue
    find "$incremental" -mindepth 1 -maxdepth 1 -mmin +720 -exec rm -rf {} +
  done

  local free_gib
  free_gib=$(($(df -Pk "$target" | awk 'NR == 2 { print $4 }') / 1024 / 1024))
  ((free_gib < min_free_gib)) || return 0
  echo "tidy-target: ${free_gib} GiB free, under ${min_free_gib}: pruning $target" >&2
  rm -rf "$target"/*/incremental
  for deps in "$target"/*/deps; do
    [ -d "$deps" ] || continue
    # Test executables are named <target>-<16 hex digits>, with no extension. Newest first, so the
    # third and later of each name are the stale ones.
    find "$deps" -maxdepth 1 -type f -perm -u+x -regextype posix-extended \
      -regex '.*/[A-Za-z0-9_]+-[0-9a-f]{16}' -printf '%T@ %p\n' |
      sort -rn |
      awk '{ name = $2; sub(/-[0-9a-f]+$/, "", name); if (++seen[name] > 2) print $2 }' |
      xargs -r rm -f
  done
  free_gib=$(($(df -Pk "$target" | awk 'NR == 2 { print $4 }') / 1024 / 1024))
  echo "tidy-target: ${free_gib} GiB free after pruning" >&2
}
