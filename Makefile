# meetbridge: `make run` serves on the embedded default, `make test` runs the whole suite.
SHELL := /bin/bash
UV := python3 -m uv
export UV_PYTHON_DOWNLOADS := never

.PHONY: run test env lint system-deps bench help

help:
	@echo "make run    install, migrate and serve on SQLite at 127.0.0.1:8787"
	@echo "make test   install everything the tests need and run the whole suite"
	@echo "make lint   ruff and mypy only"
	@echo "make bench  policy and event-sink benchmarks (installs wrk)"

env:
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet --disable-pip-version-check uv
	$(UV) sync --locked

run: env
	$(UV) run meetbridge migrate
	$(UV) run meetbridge serve

system-deps:
	scripts/install-system-deps.sh postgresql

lint: env
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy src tests benchmarks

test: env system-deps lint
	$(UV) run pytest

bench: env
	scripts/install-system-deps.sh wrk
	$(UV) run python -m benchmarks.policy
	$(UV) run python -m benchmarks.event_sink
