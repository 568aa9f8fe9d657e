#!/usr/bin/env bash
# Installs the Debian packages registrar-core needs (Debian 12 "bookworm").
# Usage: scripts/deps.sh [build|test|all]
#   build: compiler, CMake and the libraries (enough for `make run`)
#   test : build + what the test suites need (libosip2 oracle, ...)
# As root it runs apt-get itself; otherwise it uses sudo when that works
# without a password, and else prints the exact command to run and fails.
set -euo pipefail
what=${1:-all}

build_pkgs=(make cmake g++ pkg-config libcaf-dev libtinyxml2-dev nlohmann-json3-dev
            libspdlog-dev libfmt-dev libbenchmark-dev libcli11-dev libmimalloc-dev
            libsqlite3-dev)
test_pkgs=(libosip2-dev sip-tester baresip-core python3)

case "$what" in
  build) want=("${build_pkgs[@]}") ;;
  test|all) want=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
  *) echo "usage: $0 [build|test|all]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing missing Debian packages: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo=(sudo -n)
else
  echo "deps: not root and no password-less sudo; please run as root:" >&2
  echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
