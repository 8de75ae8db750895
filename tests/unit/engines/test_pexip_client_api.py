"""meetbridge's chair session on a conference: one token reused, renewed at half its lifetime,
replaced when the node no longer knows it or the PINs changed, given back at the end."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import orjson
import pytest

from meetbridge.engines.pexip.client_api import ClientApiError, InfinityClientApi

NODE, ALIAS = "node.example.com", "matt-" + "c" * 26


class ManualClock:
    def __init__(self) -> None:
        self.time = 1_000.0

    def now(self) -> float:
        return self.time


class FakeNode:
    """Answers like a node; forgets tokens on demand; records (endpoint, headers, body)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, str], Any]] = []
        self.valid: set[str] = set()
        self._numbers = itertools.count(1)

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        endpoint = request.url.path.rsplit(f"{ALIAS}/", 1)[1]
        body = orjson.loads(request.content) if request.content else None
        self.calls.append((endpoint, dict(request.headers), body))
        if endpoint == "request_token":
            if request.headers.get("pin") != "1234":
                return httpx2.Response(403, json={"status": "failed", "result": "Invalid PIN"})
            return self._token()
        if request.headers.get("token") not in self.valid:
            return httpx2.Response(403, json={"status": "failed", "result": "Invalid token"})
        if endpoint == "refresh_token":
            self.valid.discard(request.headers["token"])
            return self._token()
        return httpx2.Response(200, json={"status": "success", "result": True})

    def _token(self) -> httpx2.Response:
        token = f"t{next(self._numbers)}"
        self.valid.add(token)
        result = {"token": token, "expires": "120", "participant_uuid": "u"}
        return httpx2.Response(200, json={"status": "success", "result": result})

    def endpoints(self) -> list[str]:
        return [call[0] for call in self.calls]


@pytest.fixture
def node() -> FakeNode:
    return FakeNode()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def api(node: FakeNode, clock: ManualClock) -> InfinityClientApi:
    return InfinityClientApi(httpx2.AsyncClient(transport=httpx2.MockTransport(node.handle)), clock)


async def test_one_token_serves_many_requests_and_is_renewed_at_half_its_life(
    api: InfinityClientApi, node: FakeNode, clock: ManualClock
) -> None:
    await api.request(NODE, ALIAS, "1234", "lock")
    clock.time += 59
    await api.request(NODE, ALIAS, "1234", "unlock")
    clock.time += 2  # past half of 120 s
    await api.request(NODE, ALIAS, "1234", "lock")
    assert node.endpoints() == ["request_token", "lock", "unlock", "refresh_token", "lock"]
    assert node.calls[-1][1]["token"] == "t2"
    assert node.calls[0][1]["pin"] == "1234" and node.calls[0][2]["display_name"] == "meetbridge"


async def test_a_token_the_node_forgot_is_replaced_once(
    api: InfinityClientApi, node: FakeNode
) -> None:
    await api.request(NODE, ALIAS, "1234", "lock")
    node.valid.clear()  # e.g. the node restarted
    await api.request(NODE, ALIAS, "1234", "participants/x/mute")
    assert node.endpoints()[-3:] == ["participants/x/mute", "request_token", "participants/x/mute"]


async def test_new_pins_mean_a_new_token(api: InfinityClientApi, node: FakeNode) -> None:
    await api.request(NODE, ALIAS, "1234", "lock")
    with pytest.raises(ClientApiError) as refused:
        await api.request(NODE, ALIAS, "9999", "lock")
    assert refused.value.status == 403 and str(refused.value) == "Invalid PIN"


async def test_release_gives_the_token_back_and_forgets_it(
    api: InfinityClientApi, node: FakeNode
) -> None:
    await api.request(NODE, ALIAS, "1234", "lock")
    await api.release(NODE, ALIAS)
    assert node.endpoints()[-1] == "release_token" and not api.has_session(NODE, ALIAS)
    await api.release(NODE, ALIAS)  # nothing to give back: nothing sent
    assert node.endpoints().count("release_token") == 1


async def test_an_unreachable_node_is_a_client_api_error(clock: ManualClock) -> None:
    def down(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("refused", request=request)

    api = InfinityClientApi(httpx2.AsyncClient(transport=httpx2.MockTransport(down)), clock)
    with pytest.raises(ClientApiError) as failed:
        await api.request(NODE, ALIAS, "1234", "lock")
    assert failed.value.status == 0


async def test_server_sent_events_are_read_block_by_block_skipping_what_is_not_json() -> None:
    from meetbridge.engines.pexip.client_api import _server_sent_events

    async def lines() -> AsyncIterator[str]:
        for line in (
            ": keep-alive",
            "",
            "event: message_received",
            'data: {"payload": "hi"}',
            "",
            "event: participant_update",
            "data: not json",
            "",
            "data: {}",
            "",
            "event: disconnect",
            'data: {"reason": "bye"}',
            "",
        ):
            yield line

    seen = [item async for item in _server_sent_events(lines())]
    assert seen == [("message_received", {"payload": "hi"}), ("disconnect", {"reason": "bye"})]
