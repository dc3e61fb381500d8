#!/usr/bin/env bash
# scripts/deps.sh — installs the Debian 12 packages mojave builds and tests with.
# Idempotent: skips apt entirely when everything is already installed.
set -euo pipefail
PKGS=(build-essential cmake ninja-build pkg-config python3
      clang-16 llvm-16-dev llvm-16-tools libclang-rt-16-dev
      libcmocka-dev libmimalloc-dev libzstd-dev libssl-dev libffi-dev zstd
      iproute2 procps
      gcc-12-source)   # the gcc torture "execute" tests run by ctest torture_subset
# The aarch64 runtime (cmake/aarch64-linux-gnu.cmake, ctest label aarch64):
# the target's libraries as Debian's multiarch :arm64 packages (same versions
# as the native ones, installed beside them), the cross linker, and qemu to
# run the tests.  libstdc++ only because the project's CMake enables C++.
CROSS_ARCH=arm64
CROSS_PKGS=(qemu-user-static binutils-aarch64-linux-gnu
            libc6-dev:$CROSS_ARCH libgcc-12-dev:$CROSS_ARCH libstdc++-12-dev:$CROSS_ARCH
            libcmocka-dev:$CROSS_ARCH libmimalloc-dev:$CROSS_ARCH libzstd-dev:$CROSS_ARCH
            libssl-dev:$CROSS_ARCH)
missing=()
for p in "${PKGS[@]}" "${CROSS_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  if ! dpkg --print-foreign-architectures | grep -qx "$CROSS_ARCH"; then
    $SUDO dpkg --add-architecture "$CROSS_ARCH"
  fi
  $SUDO apt-get update -qq
  # a multiarch library must match its native twin's version exactly: the
  # native ones move to the mirror's version with it (never removed)
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
