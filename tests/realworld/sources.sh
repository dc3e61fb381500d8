# tests/realworld/sources.sh — Debian source packages for tests (sourced):
# ensure_sources adds a deb-src entry when missing and installs dpkg-dev;
# fetch PKG unpacks PKG once into $cache and prints its directory.
# Needs $cache.
ensure_sources() {
  if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
    cat > /etc/apt/sources.list.d/mojave-src.sources <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    apt-get update -qq
  fi
  local need=()
  for p in dpkg-dev autoconf automake libtool make; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || need+=("$p")
  done
  if [[ ${#need[@]} -gt 0 ]]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
}

fetch() { # debian-source-package -> unpacked dir in $cache
  local pkg=$1 dir
  dir=$(ls -d "$cache/$pkg"-*/ 2>/dev/null | head -1 || true)
  if [[ -z $dir ]]; then
    (cd "$cache" && apt-get source -qq "$pkg" >/dev/null 2>&1)
    dir=$(ls -d "$cache/$pkg"-*/ | head -1)
  fi
  echo "${dir%/}"
}

