"""Request-size limits: one ASGI wrapper in front of every route, hot paths included.

Most endpoints answer strangers (Mattermost, Zoom, Infinity and browsers reach them before any
credential is checked), and one process serves the policy server and the event sink too, so no
request may make it buffer more than its route needs. A declared ``Content-Length`` above the
route's limit is refused at once, before the body is read; any body (chunked ones have no
length) is counted while it streams and cut off with 413 as soon as it passes the limit.

Limits by path prefix (the first match wins; ``DEFAULT_LIMIT`` otherwise):

* the event sink, 16 MiB: with ``bulk_support`` Infinity sends every event of an interval in
  one POST, and after an outage a node drains its backlog in a burst; envelopes are 1-3 KB,
  so this admits thousands per POST. Refusing a genuine bulk would stall that node for good
  (it retries the same POST), so the limit errs on the generous side;
* policy requests are GETs: 64 KiB;
* Mattermost's slash command (form) and button actions (JSON): 64 KiB, tens of times the
  largest real request;
* Zoom webhooks: 1 MiB (recording events list every file, still a few KB);
* admin console forms: 256 KiB;
* everything else (join pages, OAuth callbacks, health): 64 KiB.
"""

from __future__ import annotations

import orjson

from meetbridge.web.asgi import ASGIApp, Message, Receive, Scope, Send, send_json

KIB = 1024
MIB = 1024 * KIB
DEFAULT_LIMIT = 64 * KIB
ROUTE_LIMITS: tuple[tuple[str, int], ...] = (
    ("/api/pexip/event_sink", 16 * MIB),
    ("/api/pexip/", 64 * KIB),
    ("/api/mattermost/", 64 * KIB),
    ("/api/zoom/webhook", 1 * MIB),
    ("/admin", 256 * KIB),
)
_MAX_LENGTH_DIGITS = 18  # fits an int64; longer is malformed, not merely large
_CLOSE = [(b"connection", b"close")]  # the rest of the body is never read: end the connection
_DISCONNECT: Message = {"type": "http.disconnect"}


class RequestSizeLimits:
    """Wraps the whole application; see the module docstring for the limits and why."""

    def __init__(
        self,
        app: ASGIApp,
        limits: tuple[tuple[str, int], ...] = ROUTE_LIMITS,
        default: int = DEFAULT_LIMIT,
    ) -> None:
        self._app = app
        self._limits = limits
        self._default = default

    def limit_for(self, path: str) -> int:
        for prefix, limit in self._limits:
            if path.startswith(prefix):
                return limit
        return self._default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        length, chunked, valid = _framing(scope["headers"])
        if not valid:
            await _refuse(send, 400, "malformed Content-Length header")
            return
        if length is not None and length > limit:
            await _refuse(send, 413, _too_large(limit, scope["path"]))
            return
        if length is None and not chunked and scope["method"] in ("GET", "HEAD"):
            # No body (the policy hot path): nothing to count, no wrapper allocated.
            await self._app(scope, receive, send)
            return
        capped = _CappedBody(receive, send, limit, scope["path"])
        try:
            await self._app(scope, capped.receive, capped.send)
        except Exception:
            if not capped.refused:
                raise
            # The application saw the stream end early and gave up; the client has its 413.


class _CappedBody:
    """Counts the body as it streams; past the limit, answers 413 itself and tells the
    application the client went away (so nothing half-read is ever processed)."""

    __slots__ = ("_limit", "_path", "_receive", "_received", "_send", "refused", "started")

    def __init__(self, receive: Receive, send: Send, limit: int, path: str) -> None:
        self._receive = receive
        self._send = send
        self._limit = limit
        self._path = path
        self._received = 0
        self.refused = False
        self.started = False

    async def receive(self) -> Message:
        if self.refused:
            return _DISCONNECT
        message = await self._receive()
        if message["type"] == "http.request":
            self._received += len(message.get("body", b""))
            if self._received > self._limit:
                self.refused = True
                if not self.started:
                    self.started = True
                    await _refuse(self._send, 413, _too_large(self._limit, self._path))
                return _DISCONNECT
        return message

    async def send(self, message: Message) -> None:
        if self.refused:
            return  # the 413 is the answer; whatever the application says after it is dropped
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)


def _framing(headers: list[tuple[bytes, bytes]]) -> tuple[int | None, bool, bool]:
    """(declared length, chunked, well-formed) from the raw request headers."""
    length: int | None = None
    chunked = False
    for name, value in headers:
        if name == b"content-length":
            value = value.strip()
            if not value.isdigit() or len(value) > _MAX_LENGTH_DIGITS:
                return None, False, False
            if length is not None and int(value) != length:
                return None, False, False  # two different lengths: request smuggling
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = True
    return length, chunked, True


def _too_large(limit: int, path: str) -> str:
    return f"request body too large: {path} accepts at most {limit} bytes"


async def _refuse(send: Send, status: int, message: str) -> None:
    await send_json(send, status, orjson.dumps({"error": message}), _CLOSE)
