# meetbridge: `make run` serves on the embedded default, `make test` runs the whole suite.
SHELL := /bin/bash
UV := python3 -m uv
export UV_PYTHON_DOWNLOADS := never

WEB_SOURCES := $(shell find web/src web/scripts -type f 2>/dev/null) web/vite.config.ts web/tsconfig.json
MEETING_PAGE := src/meetbridge/web/static/meeting/meeting.js

.PHONY: run test env lint web system-deps mattermost-build livekit-build mattermost bench help coverage plugin deploy-deps image

help:
	@echo "make run    install, migrate and serve on SQLite at 127.0.0.1:8787"
	@echo "make test   install everything the tests need and run the whole suite"
	@echo "make lint   ruff and mypy only"
	@echo "make plugin the companion Mattermost plugin bundle (plugin/dist/*.tar.gz)"
	@echo "make mattermost  start the tests' Mattermost server by hand (prints URL and tokens)"
	@echo "make bench  policy, event-sink and LiveKit benchmarks (installs wrk)"
	@echo "make image  the meetbridge container image (deploy/Containerfile) with podman"
	@echo "make coverage  the suite under coverage.py: line and branch figures for src/"
	@echo "               (COVERAGE_TESTS=\"tests/unit tests/hostile\" for a quick subset)"

env:
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet --disable-pip-version-check uv
	$(UV) sync --locked

# The embedded meeting page: TypeScript built by Vite into the Python package's static files.
web/node_modules/.package-lock.json: web/package-lock.json
	cd web && npm ci --no-audit --no-fund

$(MEETING_PAGE): web/node_modules/.package-lock.json $(WEB_SOURCES)
	cd web && npm run build

web: $(MEETING_PAGE)

# Beside meetbridge, a local LiveKit on loopback (dev keys in var/): the `livekit` engine works
# out of the box. Without Go to build it, meetbridge runs alone.
run: env web
	$(UV) run meetbridge migrate
	$(UV) run python -m meetbridge.devserver "$$(bash tests/e2e/livekit/build.sh 2>/dev/null | tail -1)"

system-deps:
	scripts/install-system-deps.sh postgresql chromium redis-server ffmpeg espeak-ng haproxy

lint: env
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy src tests benchmarks

# The real Mattermost server of the end-to-end tests: built once from its Go module into
# ~/.cache/meetbridge (several minutes the first time), reused afterwards.
mattermost-build:
	bash tests/e2e/mattermost/build.sh >/dev/null

# The LiveKit SFU (meeting engine `livekit`): built once from its Go module at a pinned tag into
# ~/.cache/meetbridge (about 3.5 minutes the first time), reused afterwards.
livekit-build:
	bash tests/e2e/livekit/build.sh >/dev/null

# The companion Mattermost plugin (optional for sites): Go server part and TypeScript webapp part
# (npm ci in plugin/webapp), cached by source hash.
plugin:
	bash plugin/build.sh

# What the deployment tests (tests/deploy) need: podman (as root, with this machine's
# containers.conf), a Debian base image made by mmdebstrap (no registry is reachable) and Helm
# built once from its Go module; both cached in ~/.cache/meetbridge.
DEPLOY_PACKAGES := podman runc netavark aardvark-dns catatonit mmdebstrap libnss3-tools iptables
deploy-deps:
	scripts/install-system-deps.sh $(DEPLOY_PACKAGES)
	CONTAINERS_CONF=$(CURDIR)/tests/deploy/containers.conf bash tests/deploy/base-image.sh >/dev/null
	bash tests/deploy/helm.sh >/dev/null

image: env web
	bash deploy/tools/build-image.sh

test: env system-deps lint web mattermost-build livekit-build plugin deploy-deps
	cd web && npm test
	cd plugin/webapp && npm test
	$(UV) run pytest

# Line and branch coverage of src/ (settings in pyproject.toml). Separate from `make test`, which
# stays fast: tracing slows the suite down. Subprocess-run services are not measured.
COVERAGE_TESTS ?= tests
coverage: env system-deps web mattermost-build
	$(UV) run coverage erase
	$(UV) run coverage run -m pytest $(COVERAGE_TESTS); status=$$?; \
	$(UV) run coverage report --skip-covered; \
	$(UV) run coverage json -q -o coverage.json; \
	$(UV) run python -m tests.support.coverage_figures coverage.json; \
	exit $$status

mattermost: env system-deps mattermost-build
	$(UV) run python -m tests.e2e.mattermost.manual

bench: env system-deps web mattermost-build livekit-build
	scripts/install-system-deps.sh wrk nginx
	$(UV) run python -m benchmarks.policy
	$(UV) run python -m benchmarks.event_sink
	$(UV) run python -m benchmarks.livekit_control_plane
	$(UV) run python -m benchmarks.join_latency
