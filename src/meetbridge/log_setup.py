"""Structured logging through structlog, on top of the standard library's handlers.

One format for every line a process writes: meetbridge's own events, the libraries' stdlib
records and Granian's server messages all go through the same renderer, so
``MEETBRIDGE_LOG_FORMAT=json`` gives one JSON object a line. The HTTP client logs a line per
request at info (a LiveKit room poll every two seconds, every card edit): those libraries
speak from ``warning`` up, whatever the level, so that info stays one line per meaningful event.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import orjson
import structlog

# Libraries whose info lines describe plumbing (each HTTP request, each connection).
QUIET_LIBRARIES = ("httpx2", "httpcore2", "httpx", "httpcore", "websockets", "asyncio")


def _renderer(fmt: str) -> structlog.typing.Processor:
    if fmt == "json":
        return structlog.processors.JSONRenderer(
            serializer=lambda o, **_: orjson.dumps(o, default=str).decode()
        )
    return structlog.dev.ConsoleRenderer(colors=False)


def _shared_processors() -> list[structlog.typing.Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def line_formatter(fmt: str = "console") -> logging.Formatter:
    """A stdlib formatter that renders records (libraries', Granian's) like meetbridge's own."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_shared_processors(), structlog.stdlib.add_logger_name],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _renderer(fmt),
        ],
    )


def configure_logging(level: str = "info", fmt: str = "console") -> None:
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    structlog.configure(
        processors=[
            *_shared_processors(),
            structlog.processors.format_exc_info,
            _renderer(fmt),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if not getattr(h, "meetbridge", False)]
    if not root.handlers:  # else someone configured logging already (a test runner): keep it
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(line_formatter(fmt))
        handler.meetbridge = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(numeric)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(max(numeric, logging.WARNING))


def granian_log_config(fmt: str) -> dict[str, Any]:
    """Granian's dictConfig: its server lines rendered like the rest, on stderr."""
    handler = {"formatter": "line", "class": "logging.StreamHandler", "stream": "ext://sys.stderr"}
    return {
        "formatters": {"line": {"()": "meetbridge.log_setup.line_formatter", "fmt": fmt}},
        "handlers": {"console": handler, "access": handler},
    }
