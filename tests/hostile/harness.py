"""meetbridge in-process, driven by raw ASGI requests, with the hostile-input invariant.

Requests are built as ASGI scopes by hand rather than through an HTTP client, so that the
tests control every byte a real server could pass on: undecodable query strings, header values
with high bytes, bodies in odd chunks, lying Content-Length headers. The app runs on an event
loop of its own (``asyncio.Runner``), so Hypothesis tests are plain functions and one app serves
every example of a module.

The invariant every hostile request is checked against (``Harness.exchange``):

* never a 5xx (an exception escaping the app counts as the 500 a server would send);
* a refusal (4xx) says what was wrong: a non-empty message in the body;
* a refusal changes nothing stored (digest of every table before and after).
"""

from __future__ import annotations

import asyncio
import re
import traceback
from collections.abc import Coroutine, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from html import unescape
from typing import Any, TypeVar
from urllib.parse import quote

import orjson

from meetbridge.web.app import MeetbridgeApp
from tests.support.db_digest import Snapshot, assert_unchanged, database_snapshot

T = TypeVar("T")
Header = tuple[bytes, bytes]

_ALERT = re.compile(r'role="alert"[^>]*>(.*?)</', re.DOTALL)
_TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class RawRequest:
    method: str
    path: str
    query: bytes = b""
    headers: Sequence[Header] = ()
    body_chunks: Sequence[bytes] = ()
    disconnect: bool = False  # the client goes away before the body's end

    @property
    def body(self) -> bytes:
        return b"".join(self.body_chunks)

    def describe(self) -> str:
        body = self.body
        shown = body[:300] + (b"..." if len(body) > 300 else b"")
        headers = [(k, v[:120]) for k, v in self.headers]
        return (
            f"{self.method} {self.path[:200]!r} ?{self.query[:300]!r}\n"
            f"headers={headers!r}\nbody ({len(body)} bytes in {len(self.body_chunks)} chunks)="
            f"{shown!r}"
        )


@dataclass
class Reply:
    status: int
    headers: list[Header] = field(default_factory=list)
    body: bytes = b""
    error: str = ""  # the traceback of an exception that escaped the app
    received: int = 0  # request-body bytes the app read

    def header(self, name: str) -> str | None:
        wanted = name.lower().encode()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value.decode("latin-1")
        return None

    def json(self) -> Any:
        return orjson.loads(self.body)

    def message(self) -> str:
        """What the response tells the client was wrong (JSON error or the page's alert)."""
        content_type = self.header("content-type") or ""
        if "json" in content_type:
            try:
                document = self.json()
            except orjson.JSONDecodeError:
                return ""
            return _json_message(document)
        if "html" in content_type:
            found = _ALERT.search(self.body.decode("utf-8", "replace"))
            return unescape(_TAG.sub("", found.group(1))).strip() if found else ""
        return self.body.decode("utf-8", "replace").strip()


def _json_message(document: Any) -> str:
    if not isinstance(document, dict):
        return ""
    for key in ("error", "text", "ephemeral_text", "message"):
        value = document.get(key)
        if isinstance(value, dict):
            value = _json_message(value)
        if isinstance(value, str) and value.strip():
            return value
    return ""


async def call_asgi(app: Any, request: RawRequest) -> Reply:
    """One request through the ASGI app, as a server would deliver it."""
    chunks = list(request.body_chunks) or [b""]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": "http",
        "path": request.path,
        "raw_path": quote(request.path, safe="/%", errors="surrogateescape").encode("ascii"),
        "root_path": "",
        "query_string": request.query,
        "headers": [(k.lower(), v) for k, v in request.headers],
        "client": ("198.51.100.7", 40123),
        "server": ("meetbridge", 80),
        "state": {},
    }
    pending = iter(chunks)
    index = 0
    reply = Reply(0)

    async def receive() -> dict[str, Any]:
        nonlocal index
        chunk = next(pending, None)
        if chunk is None:
            await asyncio.sleep(0)
            return {"type": "http.disconnect"}
        index += 1
        reply.received += len(chunk)
        more = index < len(chunks) or request.disconnect
        return {"type": "http.request", "body": chunk, "more_body": more}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            reply.status = message["status"]
            reply.headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            reply.body += message.get("body", b"")

    try:
        await app(scope, receive, send)
    except Exception:
        reply.status = 500
        reply.error = traceback.format_exc()
    return reply


class InvariantError(AssertionError):
    pass


class Harness:
    """A started app on its own loop; ``exchange`` sends a request and checks the invariant."""

    def __init__(self, app: MeetbridgeApp) -> None:
        self.app = app
        self._runner = asyncio.Runner()
        self._lifespan: AbstractAsyncContextManager[Any] | None = None

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self._runner.run(coroutine)

    def start(self) -> None:
        lifespan = self.app.starlette.router.lifespan_context(self.app.starlette)
        self._lifespan = lifespan
        self.run(lifespan.__aenter__())

    def stop(self) -> None:
        try:
            if self._lifespan is not None:
                self.run(self._lifespan.__aexit__(None, None, None))
        finally:
            self._runner.close()

    @property
    def components(self) -> Any:
        return self.app.components

    def snapshot(self) -> Snapshot:
        return self.run(database_snapshot(self.app.components.core.database))

    def send(self, request: RawRequest) -> Reply:
        return self.run(call_asgi(self.app, request))

    def exchange(self, request: RawRequest, *, refusal_expected: bool = False) -> Reply:
        """Send ``request`` and insist on the invariant; ``refusal_expected`` also demands a 4xx."""
        before = self.snapshot()
        reply = self.send(request)
        after = self.snapshot()
        check_reply(request, reply, before, after, refusal_expected)
        return reply


def check_reply(
    request: RawRequest,
    reply: Reply,
    before: Snapshot,
    after: Snapshot,
    refusal_expected: bool = False,
) -> None:
    where = request.describe()
    if reply.status >= 500 or reply.status < 100:
        raise InvariantError(
            f"{reply.status} for\n{where}\n{reply.body[:500]!r}\n{reply.error[-3000:]}"
        )
    if refusal_expected and not 400 <= reply.status < 500:
        raise InvariantError(f"expected a refusal (4xx), got {reply.status} for\n{where}")
    if 400 <= reply.status < 500:
        if not reply.message():
            raise InvariantError(
                f"{reply.status} without a message saying what was wrong, for\n{where}\n"
                f"{reply.body[:500]!r}"
            )
        assert_unchanged(before, after, f"a request refused with {reply.status}:\n{where}")
