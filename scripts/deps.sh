#!/usr/bin/env bash
# scripts/deps.sh — installs the Debian 12 packages mojave builds and tests with.
# Idempotent: skips apt entirely when everything is already installed.
set -euo pipefail
PKGS=(build-essential cmake ninja-build pkg-config python3
      clang-16 llvm-16-dev llvm-16-tools libclang-rt-16-dev
      libcmocka-dev libmimalloc-dev libzstd-dev libssl-dev libffi-dev zstd
      iproute2 procps
      gcc-12-source)   # the gcc torture "execute" tests run by ctest torture_subset
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
