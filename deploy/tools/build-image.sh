#!/usr/bin/env bash
# Build the meetbridge image from this checkout with podman (or ENGINE=docker).
#
# Usage: deploy/tools/build-image.sh [TAG]
#   TAG     default localhost/meetbridge:<version>
#   BASE    the base image (default: Debian bookworm slim from Docker Hub)
#   EXTRAS  optional extras of the wheel, e.g. "recording"
# The meeting page must be built (`make web`). Last stdout line: the tag.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$ROOT/pyproject.toml" | head -n 1)"
TAG="${1:-localhost/meetbridge:$VERSION}"
ENGINE="${ENGINE:-podman}"

context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
"$ROOT/deploy/tools/wheelhouse.sh" "$context/wheels" "${EXTRAS:-}" >/dev/null
cp "$ROOT/deploy/Containerfile" "$context/Containerfile"
build_args=()
[ -n "${BASE:-}" ] && build_args+=(--build-arg "BASE=$BASE")
# Docker's image format: the OCI one has no HEALTHCHECK, and podman would drop it.
format_args=()
[ "$ENGINE" = podman ] && format_args=(--format docker)
"$ENGINE" build --quiet "${format_args[@]}" "${build_args[@]}" --tag "$TAG" \
    --file "$context/Containerfile" "$context" >&2
printf '%s\n' "$TAG"
