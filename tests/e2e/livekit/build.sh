#!/usr/bin/env bash
# Build the LiveKit SFU (livekit-server) from its public Go module at a PINNED
# tag into a cache outside the work tree:
#
#   ${MEETBRIDGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/meetbridge}/livekit/<tag>/livekit-server
#
# Idempotent: when that binary exists and `--version` reports the pinned tag,
# nothing is done. `go install` writes into a scratch GOBIN and the binary is
# renamed into place only once it runs, so an interrupted build never leaves a
# binary that looks finished; the next run starts the scratch over.
# The last line on stdout is the binary's path; everything else goes to stderr.
#
# Environment:
#   GO                     go binary to use (default: "go" on PATH; needs Go >= 1.26)
#   MEETBRIDGE_CACHE       cache root (default: $XDG_CACHE_HOME/meetbridge or ~/.cache/meetbridge)
#   MEETBRIDGE_LK_VERSION  override the pinned tag (later tags may carry `replace`
#                          directives, which `go install pkg@version` refuses)
#   MEETBRIDGE_LK_FORCE    1 to rebuild even if the binary is there
set -euo pipefail

# v1.13.5 is the newest tag whose go.mod has no replace directive (v1.13.0/1 and
# master have some), so `go install ...@v1.13.5` is allowed by the go command.
PINNED_VERSION="v1.13.5"
MODULE_PACKAGE="github.com/livekit/livekit-server/cmd/server"
VERSION="${MEETBRIDGE_LK_VERSION:-$PINNED_VERSION}"

CACHE_BASE="${MEETBRIDGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/meetbridge}"
CACHE_ROOT="$CACHE_BASE/livekit"
DEST="$CACHE_ROOT/$VERSION"
BINARY="$DEST/livekit-server"

log() { printf 'build.sh: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# The binary prints "server version 1.13.5"; match the tag without its "v".
is_complete() {
    [ -x "$BINARY" ] || return 1
    "$BINARY" --version 2>/dev/null | grep -qF "${VERSION#v}"
}

if [ "${MEETBRIDGE_LK_FORCE:-0}" != 1 ] && is_complete; then
    printf '%s\n' "$BINARY"
    exit 0
fi

GO="${GO:-go}"
command -v "$GO" >/dev/null 2>&1 || die "go not found (set GO=/path/to/go or put go on PATH)"

# No toolchain downloads: the Go on this host must be new enough by itself.
export GOTOOLCHAIN=local
export GOFLAGS="-modcacherw -buildvcs=false"
export GO111MODULE=on
export CGO_ENABLED="${CGO_ENABLED:-0}"

mkdir -p "$CACHE_ROOT"

# Serialise concurrent builds of the same version (make test in two shells).
exec 9>"$CACHE_ROOT/.lock-$VERSION"
if command -v flock >/dev/null 2>&1; then
    flock 9
fi
if [ "${MEETBRIDGE_LK_FORCE:-0}" != 1 ] && is_complete; then
    printf '%s\n' "$BINARY"
    exit 0
fi

HAVE_GO="$("$GO" env GOVERSION | sed 's/^go//; s/[^0-9.].*$//')"
NEED_GO="1.26"
if [ "$(printf '%s\n%s\n' "$NEED_GO" "$HAVE_GO" | sort -V | head -n 1)" != "$NEED_GO" ]; then
    die "go $HAVE_GO is older than livekit-server $VERSION's go directive $NEED_GO (GOTOOLCHAIN=local)"
fi

# Scratch GOBIN inside the destination: the same file system, so the final mv is a rename.
SCRATCH="$DEST/.gobin"
cleanup() { rm -rf "$SCRATCH"; }
trap cleanup EXIT
cleanup
rm -f "$BINARY"
mkdir -p "$SCRATCH"

log "Go: $("$GO" env GOVERSION), module cache: $("$GO" env GOMODCACHE)"
log "go install $MODULE_PACKAGE@$VERSION (about 3.5 minutes cold on 2 cores)"
start=$(date +%s)
GOBIN="$SCRATCH" "$GO" install -trimpath "$MODULE_PACKAGE@$VERSION"
log "livekit-server built in $(( $(date +%s) - start ))s"

[ -x "$SCRATCH/server" ] || die "go install produced no $SCRATCH/server"
"$SCRATCH/server" --version >&2 || die "the built binary does not run"
mv -f "$SCRATCH/server" "$BINARY"
is_complete || die "$BINARY does not report version ${VERSION#v}"

{
    echo "module=$MODULE_PACKAGE@$VERSION"
    echo "go=$("$GO" env GOVERSION)"
    echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >"$DEST/BUILD-INFO"

log "done: $BINARY"
printf '%s\n' "$BINARY"
