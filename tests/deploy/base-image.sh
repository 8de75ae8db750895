#!/usr/bin/env bash
# The base image of the deployment tests, made without a registry: Debian bookworm (minbase)
# from Debian's mirror by mmdebstrap, kept as a tarball in the cache and imported into podman's
# local storage when missing. Last stdout line: the image's name.
#
#   ${MEETBRIDGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/meetbridge}/deploy/debian-bookworm-minbase.tar
set -euo pipefail

IMAGE="localhost/meetbridge-test-base:bookworm"
CACHE_BASE="${MEETBRIDGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/meetbridge}"
DEST="$CACHE_BASE/deploy"
TARBALL="$DEST/debian-bookworm-minbase.tar"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$(cd "$(dirname "$0")" && pwd)/containers.conf}"

log() { printf 'base-image.sh: %s\n' "$*" >&2; }

mkdir -p "$DEST"
exec 9>"$DEST/.lock-base"
flock 9
if [ ! -s "$TARBALL" ]; then
    log "mmdebstrap --variant=minbase bookworm (about a minute cold)"
    start=$(date +%s)
    mmdebstrap --quiet --variant=minbase --format=tar bookworm "$TARBALL.partial" >&2
    mv -f "$TARBALL.partial" "$TARBALL"
    log "made in $(( $(date +%s) - start ))s: $TARBALL"
fi
if ! podman image exists "$IMAGE"; then
    podman import --quiet "$TARBALL" "$IMAGE" >&2
fi
printf '%s\n' "$IMAGE"
