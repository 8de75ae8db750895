#!/usr/bin/env bash
# Helm, built once from its Go module at a pinned tag into the cache (no registry or release
# download is reachable from CI), reused afterwards:
#
#   ${MEETBRIDGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/meetbridge}/helm/<tag>/helm
#
# `go install` writes into a scratch GOBIN; the binary is renamed into place only once it runs,
# so an interrupted build never leaves one that looks finished. Last stdout line: the path.
set -euo pipefail

VERSION="${MEETBRIDGE_HELM_VERSION:-v3.22.1}"
CACHE_BASE="${MEETBRIDGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/meetbridge}"
DEST="$CACHE_BASE/helm/$VERSION"
BINARY="$DEST/helm"

log() { printf 'helm.sh: %s\n' "$*" >&2; }

is_complete() { [ -x "$BINARY" ] && "$BINARY" version --short 2>/dev/null | grep -qF "$VERSION"; }

if is_complete; then printf '%s\n' "$BINARY"; exit 0; fi
mkdir -p "$DEST"
exec 9>"$DEST/.lock"
flock 9
if is_complete; then printf '%s\n' "$BINARY"; exit 0; fi

GO="${GO:-go}"
command -v "$GO" >/dev/null 2>&1 || { log "go not found (Go >= 1.24 builds helm $VERSION)"; exit 1; }
export GOTOOLCHAIN=local GOFLAGS="-modcacherw -buildvcs=false" CGO_ENABLED=0
SCRATCH="$DEST/.gobin"
trap 'rm -rf "$SCRATCH"' EXIT
rm -rf "$SCRATCH" && mkdir -p "$SCRATCH"
log "go install helm.sh/helm/v3/cmd/helm@$VERSION (about 5 minutes cold on 2 cores)"
start=$(date +%s)
# The version string is normally stamped by helm's Makefile; without it `helm version` says
# v3.x-dev-ish, and charts' kubeVersion checks use it.
GOBIN="$SCRATCH" "$GO" install -trimpath \
    -ldflags "-X helm.sh/helm/v3/internal/version.version=$VERSION" \
    "helm.sh/helm/v3/cmd/helm@$VERSION"
log "helm built in $(( $(date +%s) - start ))s"
mv -f "$SCRATCH/helm" "$BINARY"
is_complete || { log "$BINARY does not report $VERSION"; exit 1; }
printf '%s\n' "$BINARY"
