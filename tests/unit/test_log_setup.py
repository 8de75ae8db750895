"""What an operator reads: one format for every line, and no line per HTTP request at info."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import orjson
import pytest
import structlog

from meetbridge.log_setup import configure_logging, granian_log_config


@pytest.fixture
def restore_logging() -> Iterator[None]:
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    quiet = {name: logging.getLogger(name).level for name in ("httpx2", "httpcore2")}
    yield
    structlog.configure(**saved)
    root.handlers, root.level = handlers, level
    for name, value in quiet.items():
        logging.getLogger(name).setLevel(value)


def _configure(level: str, fmt: str) -> None:
    """As in a process of its own: pytest's capture handlers (added for the test's run) aside."""
    logging.getLogger().handlers = []
    configure_logging(level, fmt)


def _lines(text: str) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in text.splitlines() if line.strip()]


@pytest.mark.usefixtures("restore_logging")
def test_json_lines_for_meetbridge_and_library_records_alike(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _configure("info", "json")
    with structlog.contextvars.bound_contextvars(request_id="r-1"):
        structlog.get_logger("meetbridge.test").info("meeting.started", channel="c1")
    logging.getLogger("some.library").warning("disk %s nearly full", "/var")
    lines = _lines(capsys.readouterr().err)
    assert [line["event"] for line in lines] == ["meeting.started", "disk /var nearly full"]
    assert lines[0]["request_id"] == "r-1" and lines[0]["level"] == "info"
    assert lines[1]["level"] == "warning" and lines[1]["logger"] == "some.library"
    assert all("timestamp" in line for line in lines)


@pytest.mark.usefixtures("restore_logging")
def test_the_http_client_says_nothing_per_request_at_info_but_still_warns(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _configure("info", "json")
    client = logging.getLogger("httpx2")
    client.info('HTTP Request: POST http://livekit/twirp/livekit.RoomService/ListRooms "200 OK"')
    client.warning("connection pool full")
    assert [line["event"] for line in _lines(capsys.readouterr().err)] == ["connection pool full"]


@pytest.mark.usefixtures("restore_logging")
def test_debug_level_still_shows_nothing_of_the_client_below_warning(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _configure("debug", "console")
    logging.getLogger("httpx2").info("HTTP Request: GET /")
    structlog.get_logger("meetbridge.test").debug("poll", rooms=0)
    err = capsys.readouterr().err
    assert "HTTP Request" not in err and "poll" in err


def test_granian_lines_go_through_the_same_formatter() -> None:
    config = granian_log_config("json")
    formatter = config["formatters"]["line"]
    assert formatter == {"()": "meetbridge.log_setup.line_formatter", "fmt": "json"}
    assert config["handlers"]["console"]["formatter"] == "line"
    assert config["handlers"]["console"]["stream"] == "ext://sys.stderr"
