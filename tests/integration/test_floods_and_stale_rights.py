"""Floods and stale rights in LiveKit meetings (issue 20, item 6), against the real
livekit-server (Pexip meetings: test_pexip_floods_and_stale_rights.py).

* Every control action of a meeting page is rate-limited per device (chat lines, hands, stats
  reports, host actions, as reactions were), in the database, so that a page whose calls are
  spread over replicas gets no more.
* A member removed from the channel during a meeting is taken out of it at once when Mattermost's
  WebSocket says so (``user_removed``), or by the periodic check when that event never comes; their
  control calls, thread replies and attempts to come back are refused.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack

import pytest

from meetbridge.config import ServiceConfig
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.services.meeting_chat import ThreadReply
from meetbridge.store import meetings_repo
from tests.conftest import RunningApp, running_on_livekit
from tests.integration.test_livekit_admission import webhooks_to_meetbridge
from tests.integration.test_livekit_controls import Device, act, join
from tests.support.livekit import LiveKitServer, SignallingParticipant
from tests.support.mattermost_standin import MattermostStandIn


@pytest.fixture
async def service(
    config: ServiceConfig, mattermost: MattermostStandIn, livekit_server: LiveKitServer
) -> AsyncIterator[RunningApp]:
    async with running_on_livekit(config, mattermost, livekit_server) as running_app:
        yield running_app


@pytest.fixture
async def livekit_meeting(
    service: RunningApp,
    mattermost: MattermostStandIn,
    livekit_server: LiveKitServer,
    webhooks_to_meetbridge: list[tuple[str, int]],
) -> AsyncIterator[tuple[str, str, Device, str, Device]]:
    """(channel, alice, Alice's device: host, bob, Bob's device), both connected, in a meeting
    meetbridge knows of (LiveKit's room_started reached it)."""
    alice, bob = mattermost.add_user("alice"), mattermost.add_user("bob")
    channel = mattermost.add_channel("Planning", kind="P")
    alices, bobs = await join(service, channel, alice), await join(service, channel, bob)
    async with AsyncExitStack() as stack:
        for device in (alices, bobs):
            await stack.enter_async_context(
                SignallingParticipant(livekit_server.ws_url, device.livekit_token)
            )

        async def known() -> bool:
            await service.components.applier.drain()
            async with service.components.core.database.read() as conn:
                found = await meetings_repo.current_for_channel(conn, ChannelId(channel))
            return found is not None

        await until(known)
        yield channel, alice, alices, bob, bobs


webhooks_to_meetbridge = webhooks_to_meetbridge  # a fixture of that module, used here too


async def codes(
    service: RunningApp, device: Device, actions: list[str], **body: object
) -> list[int]:
    """The status of each action, called one after the other by the device."""
    return [(await act(service, device, action, **body)).status_code for action in actions]


REPORT = {"sendKbps": 1200, "receiveKbps": 2400, "packetLossPercent": 1.5, "rttMs": 42}


async def test_every_page_action_is_rate_limited_per_device(
    service: RunningApp, livekit_meeting: tuple[str, str, Device, str, Device]
) -> None:
    _, _, alices, _, bobs = livekit_meeting
    assert await codes(service, bobs, ["chat"] * 6, text="flood") == [200] * 5 + [429]
    hands = await codes(service, bobs, ["raise-hand", "lower-hand"] * 3 + ["raise-hand"])
    assert hands == [200] * 6 + [429]
    assert await codes(service, bobs, ["stats"] * 4, **REPORT) == [200] * 3 + [429]
    assert await codes(service, alices, ["mute-all"] * 11) == [200] * 10 + [429]
    limited = await act(service, bobs, "chat", text="more")
    assert limited.status_code == 429 and "Slow down" in limited.text
    # Per device: Bob's flood costs Alice nothing.
    assert (await act(service, alices, "chat", text="hello")).status_code == 200


async def test_a_member_removed_from_the_channel_is_taken_out_of_the_livekit_meeting_at_once(
    service: RunningApp,
    mattermost: MattermostStandIn,
    livekit_server: LiveKitServer,
    livekit_meeting: tuple[str, str, Device, str, Device],
) -> None:
    channel, alice, _alices, bob, bobs = livekit_meeting
    rooms = service.components.livekit.rooms()
    mattermost.channels[channel]["members"] = {alice}  # Bob is removed from the channel
    assert service.components.chat is not None
    service.components.chat.websocket.handle(
        "user_removed", {"user_id": bob, "remover_id": alice}, {"channel_id": channel}
    )

    async def bob_gone() -> bool:
        present = {p.identity for p in await rooms.list_participants(f"mb-{channel}")}
        return bobs.identity not in present

    await until(bob_gone)
    refused = await act(service, bobs, "raise-hand")
    assert refused.status_code == 403
    # Coming back with the token his page held: removed again as LiveKit reports the join.
    async with SignallingParticipant(livekit_server.ws_url, bobs.livekit_token):
        await service.components.livekit_admission.check_room(f"mb-{channel}")
        assert await bob_gone()
    # A reply he still manages to post in the card's thread does not reach the meeting.
    sent: list[str] = []

    async def to_meeting(*args: object) -> None:
        sent.append(str(args[2]))

    await service.components.applier.drain()
    reply = ThreadReply("p" * 26, "r" * 26, UserId(bob), "still here", 1)
    assert not await service.components.meeting_chat.from_thread(reply, "b" * 26, to_meeting)
    assert sent == []


async def test_the_periodic_check_takes_out_someone_whose_removal_event_never_came(
    service: RunningApp,
    mattermost: MattermostStandIn,
    livekit_meeting: tuple[str, str, Device, str, Device],
) -> None:
    channel, alice, alices, bob, _bobs = livekit_meeting
    rooms = service.components.livekit.rooms()
    mattermost.channels[channel]["members"] = {alice}
    service.components.directory.forget_membership(channel, bob)  # the cache's TTL ran out
    await service.components.membership.sweep()
    present = {p.identity for p in await rooms.list_participants(f"mb-{channel}")}
    assert present == {alices.identity}


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    for _ in range(int(timeout * 20)):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")
