"""meetbridge → plugin events: signed as the plugin verifies them, no Mattermost credentials,
and every failure a plain False (the bot's own posts remain the fallback)."""

from __future__ import annotations

import httpx2
import orjson

from meetbridge.chat.mattermost.plugin_events import PluginEvents
from meetbridge.domain.plugin_signature import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignedRequest,
    verify,
)

SECRET = "0123456789abcdef0123456789abcdef"
CHANNEL = "abcdefghijklmnopqrstuvwxyz"


class FixedClock:
    def now(self) -> float:
        return 1_700_000_000.0


def events(handler: httpx2.MockTransport, secret: str = SECRET) -> PluginEvents:
    http = httpx2.AsyncClient(base_url="http://mattermost.test", transport=handler)
    return PluginEvents(http, lambda: secret, FixedClock())


async def test_a_published_event_is_signed_as_the_plugin_verifies_it() -> None:
    seen: list[httpx2.Request] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(204)

    assert await events(httpx2.MockTransport(answer)).publish(
        "meeting_state", {"state": "started"}, channel_id=CHANNEL
    )
    (request,) = seen
    assert request.url.path == "/plugins/com.meetbridge.companion/api/v1/events"
    assert "authorization" not in request.headers and "mattermost-user-id" not in request.headers
    body = request.read()
    assert orjson.loads(body)["channel_id"] == CHANNEL
    signed = SignedRequest(
        "POST",
        "/api/v1/events",  # the path as the plugin sees it
        request.headers[TIMESTAMP_HEADER],
        request.headers[SIGNATURE_HEADER],
        "",
        body,
    )
    verify(SECRET, signed, FixedClock().now())


async def test_failures_are_false_and_no_secret_means_no_request() -> None:
    calls: list[str] = []

    def refuse(request: httpx2.Request) -> httpx2.Response:
        calls.append(request.url.path)
        return httpx2.Response(401, json={"error": "no"})

    def unreachable(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("down", request=request)

    assert not await events(httpx2.MockTransport(refuse)).publish("x", {}, channel_id=CHANNEL)
    assert not await events(httpx2.MockTransport(unreachable)).publish("x", {}, user_id=CHANNEL)
    calls.clear()
    assert not await events(httpx2.MockTransport(refuse), secret="").publish(
        "x", {}, channel_id=CHANNEL
    )
    assert calls == []
