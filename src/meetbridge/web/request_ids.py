"""A request id on every line meetbridge logs while handling one request.

The id comes from the proxy in front (``X-Request-Id``, as nginx, haproxy and ingress
controllers set it) when it is a plain token, else meetbridge makes one; it is bound in the
log context for the request and sent back in the answer's ``X-Request-Id``, so an operator can
follow one request from the proxy's log through meetbridge's. Plain ASGI: it sits in front of
the Pexip hot paths too and costs a random token and a context variable.
"""

from __future__ import annotations

import os
import re

import structlog

from meetbridge.web.asgi import ASGIApp, Message, Receive, Scope, Send

HEADER = b"x-request-id"
_ACCEPTED = re.compile(rb"[A-Za-z0-9._:-]{1,64}")


def request_id_of(scope: Scope) -> str:
    """The proxy's id when it is a plain token of at most 64 characters, else a new one."""
    for name, value in scope.get("headers", ()):
        if name == HEADER and _ACCEPTED.fullmatch(value):
            return str(value.decode("ascii"))
    return os.urandom(8).hex()


class RequestIds:
    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self._app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        encoded = request_id.encode("ascii")

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", ()) if h[0].lower() != HEADER]
                message = {**message, "headers": [*headers, (HEADER, encoded)]}
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            await self._app(scope, receive, send_with_id)
