#!/usr/bin/env bash
# Fill DIR with the meetbridge wheel built from this checkout (the meeting page included: run
# `make web` first) and wheels of its locked run-time dependencies (uv.lock) for CPython 3.11
# on glibc 2.36 (Debian bookworm), so that `pip install --no-index --find-links DIR meetbridge`
# or `uv tool install --offline --find-links DIR meetbridge` works on a machine without PyPI.
# The dependency wheels are cached by the lock's requirements.
#
# Usage: deploy/tools/wheelhouse.sh DIR [EXTRAS]    (EXTRAS: e.g. "recording")
set -euo pipefail

OUT="${1:?usage: wheelhouse.sh DIR [EXTRAS]}"
EXTRAS="${2:-}"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
CACHE_BASE="${MEETBRIDGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/meetbridge}"
# uv as `uv run` names it, else on PATH, else as the Makefile installs it (python3 -m uv).
if [ -n "${UV:-}" ]; then UV=("$UV"); elif command -v uv >/dev/null; then UV=(uv); else UV=(python3 -m uv); fi
ARCH="$(uname -m)"

log() { printf 'wheelhouse.sh: %s\n' "$*" >&2; }

[ -s "$ROOT/src/meetbridge/web/static/meeting/meeting.js" ] || {
    log "the meeting page is not built: run \`make web\` first"; exit 1; }
mkdir -p "$OUT"
cd "$ROOT"
extra_args=()
[ -n "$EXTRAS" ] && extra_args=(--extra "$EXTRAS")
requirements="$(mktemp)"
trap 'rm -f "$requirements"' EXIT
"${UV[@]}" export --quiet --locked --no-dev --no-emit-project --no-hashes \
    --format requirements-txt "${extra_args[@]}" >"$requirements"
key="$(sha256sum "$requirements" | cut -c1-16)"
cached="$CACHE_BASE/deploy/wheelhouse/$ARCH-cp311-$key"
if [ ! -d "$cached" ]; then
    log "downloading the locked dependencies' wheels into $cached"
    platforms=()
    for minor in $(seq 36 -1 17); do platforms+=(--platform "manylinux_2_${minor}_$ARCH"); done
    platforms+=(--platform "manylinux2014_$ARCH" --platform "manylinux1_$ARCH")
    rm -rf "$cached.partial"
    # pip (run by uv, whatever interpreter is first on PATH) can fetch for another platform.
    "${UV[@]}" tool run --quiet --from pip pip download --quiet --disable-pip-version-check --no-deps \
        --requirement "$requirements" --dest "$cached.partial" --only-binary=:all: \
        --implementation cp --python-version 3.11 --abi cp311 "${platforms[@]}"
    mv "$cached.partial" "$cached"
fi
cp "$cached"/*.whl "$OUT"/
"${UV[@]}" build --quiet --wheel --out-dir "$OUT" >&2
ls "$OUT"/meetbridge-*.whl
