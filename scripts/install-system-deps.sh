#!/usr/bin/env bash
# Installs the Debian packages the tests and benchmarks need, only when they are missing.
# Usage: scripts/install-system-deps.sh [postgresql] [wrk] ...
set -euo pipefail

have_postgresql() {
  command -v initdb >/dev/null 2>&1 && return 0
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}

have() {
  case "$1" in
    postgresql) have_postgresql ;;
    # A command of the package's name, or else the package itself (libraries, plugins).
    *) command -v "$1" >/dev/null 2>&1 \
         || dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed" ;;
  esac
}

missing=()
for package in "$@"; do
  have "$package" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "missing packages: ${missing[*]} (install them, or run as root)" >&2
  exit 1
fi
echo "installing ${missing[*]} from Debian's packages" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get -o DPkg::Lock::Timeout=900 update -q
"${sudo[@]}" apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends "${missing[@]}"
