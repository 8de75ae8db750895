#!/usr/bin/env bash
# Build the companion plugin bundle (<id>-<version>.tar.gz: plugin.json, the linux-amd64
# server binary and the webapp bundle) into plugin/dist/. The bundle is cached by a hash of its
# sources under
#   ${MEETBRIDGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/meetbridge}/plugin/<hash>/
# so an unchanged plugin is never rebuilt. The last stdout line is the bundle's path.
#
# Go modules come through the module proxy (go.sum pins them); GOTOOLCHAIN=local. The webapp
# part is built with npm (package-lock.json pins it): `npm ci` whenever node_modules is older
# than the lock file, so the tests' host page finds its pinned React there too.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
GO="${GO:-go}"
log() { printf 'plugin/build.sh: %s\n' "$*" >&2; }

manifest_field() { sed -n "s/^    \"$1\": \"\\([^\"]*\\)\",\$/\\1/p" "$HERE/plugin.json" | head -n 1; }
ID="$(manifest_field id)"
VERSION="$(manifest_field version)"
[ -n "$ID" ] && [ -n "$VERSION" ] || { log "cannot read id/version from plugin.json"; exit 1; }
BUNDLE_NAME="$ID-$VERSION.tar.gz"

# Everything that goes into the bundle, tests excluded (they do not change it).
HASH="$(cd "$HERE" && {
    find plugin.json build.sh server -type f \
        \( -name '*.go' ! -name '*_test.go' -o -name go.mod -o -name go.sum -o -name '*.json' -o -name '*.sh' \) \
        -print0
    find webapp/src webapp/package.json webapp/package-lock.json webapp/tsconfig.json webapp/vite.config.ts \
        -type f -print0
} | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)"
CACHE_ROOT="${MEETBRIDGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/meetbridge}/plugin"
CACHED="$CACHE_ROOT/$HASH/$BUNDLE_NAME"
OUT="$HERE/dist/$BUNDLE_NAME"

mkdir -p "$CACHE_ROOT" "$HERE/dist"
exec 9>"$CACHE_ROOT/.lock"
command -v flock >/dev/null 2>&1 && flock 9

WEBAPP="$HERE/webapp"
if command -v npm >/dev/null 2>&1 && \
    [ ! "$WEBAPP/node_modules/.package-lock.json" -nt "$WEBAPP/package-lock.json" ]; then
    log "installing the webapp's npm packages (npm ci)"
    (cd "$WEBAPP" && npm ci --no-audit --no-fund >&2)
fi

if [ ! -f "$CACHED" ]; then
    command -v "$GO" >/dev/null 2>&1 || { log "go not found (set GO=/path/to/go)"; exit 1; }
    STAGE="$(mktemp -d)"
    trap 'rm -rf "$STAGE"' EXIT
    mkdir -p "$STAGE/$ID/server/dist"
    cp "$HERE/plugin.json" "$STAGE/$ID/"
    log "building the server part (linux-amd64)"
    start=$(date +%s)
    (cd "$HERE/server" && GOTOOLCHAIN=local GOFLAGS="-modcacherw -buildvcs=false" CGO_ENABLED=0 \
        GOOS=linux GOARCH=amd64 "$GO" build -trimpath -ldflags "-s -w" \
        -o "$STAGE/$ID/server/dist/plugin-linux-amd64" .)
    log "built in $(( $(date +%s) - start ))s"
    command -v npm >/dev/null 2>&1 || { log "npm not found (Node.js builds the webapp part)"; exit 1; }
    log "building the webapp part"
    (cd "$WEBAPP" && npm run build >&2)
    mkdir -p "$STAGE/$ID/webapp/dist"
    cp "$WEBAPP/dist/main.js" "$STAGE/$ID/webapp/dist/main.js"
    mkdir -p "$CACHE_ROOT/$HASH"
    tar -C "$STAGE" -czf "$CACHED.partial" "$ID"
    mv "$CACHED.partial" "$CACHED"
fi
cp "$CACHED" "$OUT"
printf '%s\n' "$OUT"
