#!/usr/bin/env bash
# Build a Mattermost server (Team Edition, no build tags other than
# "production") from the public Go modules at a PINNED commit and lay out a
# runtime directory in a cache outside the work tree:
#
#   ${MEETBRIDGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/meetbridge}/mattermost/<server-pseudo-version>/
#       bin/mattermost  bin/mmctl  i18n/  templates/  fonts/  BUILD-INFO  .build-complete
#
# Idempotent: if the marker (.build-complete, written last) exists, nothing is
# done. An interrupted build leaves no marker and is redone from scratch.
# The last line on stdout is the runtime directory; everything else goes to
# stderr.
#
# Environment:
#   GO                          go binary to use (default: "go" on PATH)
#   MEETBRIDGE_CACHE            cache root (default: $XDG_CACHE_HOME/meetbridge or ~/.cache/meetbridge)
#   MEETBRIDGE_MM_SERVER_VERSION  override the pinned server/v8 pseudo-version
#   MEETBRIDGE_MM_PUBLIC_VERSION  override the server/public version (must be the SAME commit)
#   MEETBRIDGE_MM_BUILD_MMCTL   1 (default) to also build mmctl, 0 to skip
#   MEETBRIDGE_MM_FORCE         1 to rebuild even if the marker exists
set -euo pipefail

# Pinned pair (same git commit 3321db82c3e7 of mattermost/mattermost,
# 2026-01-30, the commit tagged server/public/v0.1.22; model version 11.4.0).
# See NOTES.md next to this script for how it was chosen.
PINNED_SERVER_VERSION="v8.0.0-20260130160320-3321db82c3e7"
PINNED_PUBLIC_VERSION="v0.1.22"

SERVER_MOD="github.com/mattermost/mattermost/server/v8"
PUBLIC_MOD="github.com/mattermost/mattermost/server/public"
SERVER_VERSION="${MEETBRIDGE_MM_SERVER_VERSION:-$PINNED_SERVER_VERSION}"
PUBLIC_VERSION="${MEETBRIDGE_MM_PUBLIC_VERSION:-$PINNED_PUBLIC_VERSION}"
BUILD_MMCTL="${MEETBRIDGE_MM_BUILD_MMCTL:-1}"
DEFAULT_WORK_REPLACES="github.com/vmihailenco/msgpack/v5@v5.4.1 github.com/richardlehane/msoleps@v1.0.6"

CACHE_BASE="${MEETBRIDGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/meetbridge}"
CACHE_ROOT="$CACHE_BASE/mattermost"
DEST="$CACHE_ROOT/$SERVER_VERSION"
MARKER="$DEST/.build-complete"

log() { printf 'build.sh: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

is_complete() { [ -f "$MARKER" ] && [ -x "$DEST/bin/mattermost" ]; }

# Fast path: nothing to do.
if [ "${MEETBRIDGE_MM_FORCE:-0}" != 1 ] && is_complete; then
    printf '%s\n' "$DEST"
    exit 0
fi

GO="${GO:-go}"
command -v "$GO" >/dev/null 2>&1 || die "go not found (set GO=/path/to/go or put go on PATH)"

export GOTOOLCHAIN=local
export GOFLAGS="-modcacherw -buildvcs=false"
export GO111MODULE=on
export CGO_ENABLED="${CGO_ENABLED:-0}"

mkdir -p "$CACHE_ROOT"

# Serialise concurrent builds of the same version.
LOCK="$CACHE_ROOT/.lock-$SERVER_VERSION"
exec 9>"$LOCK"
if command -v flock >/dev/null 2>&1; then
    flock 9
fi
if [ "${MEETBRIDGE_MM_FORCE:-0}" != 1 ] && is_complete; then
    printf '%s\n' "$DEST"
    exit 0
fi

# The commit id is the last dash-separated field of a pseudo-version.
commit_of() { printf '%s\n' "${1##*-}"; }
SERVER_COMMIT="$(commit_of "$SERVER_VERSION")"
case "$SERVER_COMMIT" in
    [0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]) ;;
    *) die "server version $SERVER_VERSION is not a pseudo-version" ;;
esac

# json_field FIELD: first "FIELD": "value" from `go ... -json` output on stdin.
json_field() { sed -n "s/^[[:space:]]*\"$1\": \"\\(.*\\)\",\\{0,1\\}\$/\\1/p" | head -n 1; }

log "Go: $("$GO" env GOVERSION), module cache: $("$GO" env GOMODCACHE)"
log "downloading $SERVER_MOD@$SERVER_VERSION and $PUBLIC_MOD@$PUBLIC_VERSION"
SERVER_JSON="$("$GO" mod download -json "$SERVER_MOD@$SERVER_VERSION")" \
    || die "cannot download $SERVER_MOD@$SERVER_VERSION"
PUBLIC_JSON="$("$GO" mod download -json "$PUBLIC_MOD@$PUBLIC_VERSION")" \
    || die "cannot download $PUBLIC_MOD@$PUBLIC_VERSION"
SERVER_DIR="$(printf '%s\n' "$SERVER_JSON" | json_field Dir)"
PUBLIC_DIR="$(printf '%s\n' "$PUBLIC_JSON" | json_field Dir)"
[ -d "$SERVER_DIR" ] || die "no module dir for $SERVER_MOD@$SERVER_VERSION"
[ -d "$PUBLIC_DIR" ] || die "no module dir for $PUBLIC_MOD@$PUBLIC_VERSION"

# server/v8 and server/public must come from the same commit.
PUBLIC_COMMIT=""
case "$PUBLIC_VERSION" in
    *-*.[0-9]*-[0-9a-f]*) PUBLIC_COMMIT="$(commit_of "$PUBLIC_VERSION")" ;;
esac
if [ -z "$PUBLIC_COMMIT" ]; then
    PUBLIC_COMMIT="$("$GO" list -m -json "$PUBLIC_MOD@$PUBLIC_VERSION" | json_field Hash || true)"
fi
if [ -n "$PUBLIC_COMMIT" ]; then
    case "$PUBLIC_COMMIT" in
        "$SERVER_COMMIT"*) ;;
        *) die "$PUBLIC_MOD@$PUBLIC_VERSION is commit $PUBLIC_COMMIT, not $SERVER_COMMIT" ;;
    esac
else
    log "WARNING: could not determine the commit of $PUBLIC_MOD@$PUBLIC_VERSION; assuming it matches $SERVER_COMMIT"
fi

go_directive() { sed -n 's/^go[[:space:]]\{1,\}\([0-9][0-9.]*\).*$/\1/p' "$1" | head -n 1; }
SERVER_GO="$(go_directive "$SERVER_DIR/go.mod")"
PUBLIC_GO="$(go_directive "$PUBLIC_DIR/go.mod")"
WORK_GO="$(printf '%s\n%s\n' "$SERVER_GO" "$PUBLIC_GO" | sort -V | tail -n 1)"
HAVE_GO="$("$GO" env GOVERSION | sed 's/^go//; s/[^0-9.].*$//')"
if [ "$(printf '%s\n%s\n' "$WORK_GO" "$HAVE_GO" | sort -V | head -n 1)" != "$WORK_GO" ]; then
    die "go $HAVE_GO is older than the modules' go directive $WORK_GO (GOTOOLCHAIN=local)"
fi

# Fresh destination and scratch tree (both outside any work tree).
WORK="$CACHE_ROOT/.work-$SERVER_VERSION"
cleanup() {
    if [ -n "${WORK:-}" ] && [ -d "$WORK" ]; then
        chmod -R u+w "$WORK" 2>/dev/null || true
        rm -rf "$WORK"
    fi
    return 0
}
trap cleanup EXIT
cleanup
if [ -e "$DEST" ]; then chmod -R u+w "$DEST" 2>/dev/null || true; rm -rf "$DEST"; fi
mkdir -p "$WORK" "$DEST/bin"

log "preparing workspace in $WORK (go $WORK_GO)"
cp -R "$SERVER_DIR" "$WORK/server"
cp -R "$PUBLIC_DIR" "$WORK/public"
chmod -R u+w "$WORK"
cat >"$WORK/go.work" <<EOF
go $WORK_GO

use (
	./server
	./public
)
EOF

# Dependency overrides (go.work replaces win over the modules' own). Needed
# because the module proxy reachable here refuses (403) two versions in the
# pinned build list:
#  * server/go.mod replaces github.com/vmihailenco/msgpack/v5 with a Mattermost
#    fork (github.com/mattermost/msgpack/v5 v5.0.0-20260120151306-2f9c67d7e57f,
#    "MM-66167"); point it back at upstream v5.4.1, the version server/ and
#    public/ both require (same import path and API).
#  * github.com/richardlehane/msoleps v1.0.5 (indirect, via docconv/mscfb):
#    use v1.0.6, the next patch release.
# Override with MEETBRIDGE_MM_WORK_REPLACES="module@version ..." ("" for none).
for mv in ${MEETBRIDGE_MM_WORK_REPLACES-$DEFAULT_WORK_REPLACES}; do
    log "go.work override: ${mv%@*} => ${mv#*@}"
    printf '\nreplace %s => %s %s\n' "${mv%@*}" "${mv%@*}" "${mv#*@}" >>"$WORK/go.work"
done
export GOWORK="$WORK/go.work"

# Reproducible build info: commit time from the pseudo-version (yyyymmddhhmmss).
TS="$(printf '%s\n' "$SERVER_VERSION" | sed -n 's/^v[0-9.]*-\([0-9]\{14\}\)-.*$/\1/p')"
BUILD_DATE="$(printf '%s' "$TS" | sed 's/^\(....\)\(..\)\(..\)\(..\)\(..\)\(..\)$/\1-\2-\3T\4:\5:\6Z/')"
MODEL="github.com/mattermost/mattermost/server/public/model"
LDFLAGS="-X $MODEL.BuildNumber=$SERVER_VERSION -X $MODEL.BuildDate=$BUILD_DATE"
LDFLAGS="$LDFLAGS -X $MODEL.BuildHash=$SERVER_COMMIT -X $MODEL.BuildEnterpriseReady=false"

cd "$WORK/server"
log "go build ./cmd/mattermost (this takes several minutes cold)"
start=$(date +%s)
"$GO" build -trimpath -tags production -ldflags "$LDFLAGS" -o "$DEST/bin/mattermost" ./cmd/mattermost
log "mattermost built in $(( $(date +%s) - start ))s"

if [ "$BUILD_MMCTL" = 1 ]; then
    start=$(date +%s)
    "$GO" build -trimpath \
        -ldflags "-X github.com/mattermost/mattermost/server/v8/cmd/mmctl/commands.buildDate=$BUILD_DATE" \
        -o "$DEST/bin/mmctl" ./cmd/mmctl
    log "mmctl built in $(( $(date +%s) - start ))s"
fi

for d in i18n templates fonts; do
    cp -R "$WORK/server/$d" "$DEST/$d"
done
chmod -R u+w "$DEST"

{
    echo "server_module=$SERVER_MOD@$SERVER_VERSION"
    echo "public_module=$PUBLIC_MOD@$PUBLIC_VERSION"
    echo "commit=$SERVER_COMMIT"
    echo "go_directive=$WORK_GO"
    echo "go=$("$GO" env GOVERSION)"
    echo "tags=production"
} >"$DEST/BUILD-INFO"

# Marker last: its presence means the directory is complete.
date -u +%Y-%m-%dT%H:%M:%SZ >"$MARKER"
log "done: $DEST"
printf '%s\n' "$DEST"
