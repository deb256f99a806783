# Sourced: apt_install PKG... installs the Debian packages that are missing, updating the index once.
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  echo "apt: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if [ -z "${FOOTFALL_APT_UPDATED:-}" ]; then
    apt-get update -qq
    export FOOTFALL_APT_UPDATED=1
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
