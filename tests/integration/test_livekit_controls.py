"""The meeting page's control API against a real livekit-server: permissions are meetbridge's
(a participant's forged host action is refused whatever the page shows), and the host's
actions take effect in LiveKit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import httpx2
import pytest

from meetbridge.config import ServiceConfig
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.engines.livekit.rooms import RoomService
from meetbridge.services.join import JoinRefusedError
from tests.conftest import RunningApp, running_on_livekit
from tests.support.livekit import LiveKitServer, SignallingParticipant
from tests.support.mattermost_standin import MattermostStandIn


@pytest.fixture
async def service(
    config: ServiceConfig, mattermost: MattermostStandIn, livekit_server: LiveKitServer
) -> AsyncIterator[RunningApp]:
    async with running_on_livekit(config, mattermost, livekit_server) as running_app:
        yield running_app


class Device:
    """One person's page in the meeting: its LiveKit identity and its control token."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.identity: str = config["identity"]
        self.livekit_token: str = config["livekit"]["token"]
        self.controls: str = config["controls"]["token"]


async def join(service: RunningApp, channel: str, user: str) -> Device:
    link = await service.components.join.start(ChannelId(channel), UserId(user))
    target = await service.components.join.open(link.rsplit("/", 1)[1])
    return Device(dict(target.page_config))


async def act(
    service: RunningApp, device: Device | str, action: str, **body: object
) -> httpx2.Response:
    bearer = device.controls if isinstance(device, Device) else device
    return await service.http.post(
        f"/api/meetings/controls/{action}",
        json=body,
        headers={"Authorization": f"Bearer {bearer}"},
    )


@pytest.fixture
async def meeting(
    service: RunningApp, mattermost: MattermostStandIn, livekit_server: LiveKitServer
) -> AsyncIterator[tuple[str, Device, Device, SignallingParticipant]]:
    """Alice (host, started it) and Bob (participant), both connected; yields Bob's socket."""
    alice, bob = mattermost.add_user("alice"), mattermost.add_user("bob")
    channel = mattermost.add_channel("Planning", kind="P")
    alices, bobs = await join(service, channel, alice), await join(service, channel, bob)
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(
            SignallingParticipant(livekit_server.ws_url, alices.livekit_token)
        )
        bob_socket = await stack.enter_async_context(
            SignallingParticipant(livekit_server.ws_url, bobs.livekit_token)
        )
        yield channel, alices, bobs, bob_socket


async def test_a_participants_forged_host_actions_are_refused(
    service: RunningApp, meeting: tuple[str, Device, Device, SignallingParticipant]
) -> None:
    _, alice, bob, _ = meeting
    for action, body in (
        ("mute", {"identity": alice.identity}),
        ("remove", {"identity": alice.identity}),
        ("make-host", {"identity": bob.identity}),
        ("mute-all", {}),
        ("lower-all-hands", {}),
        ("end", {}),
        ("recording", {"on": True}),
    ):
        refused = await act(service, bob, action, **body)
        assert refused.status_code == 403, (action, refused.text)
        assert refused.json()["error"] == "Only the meeting's host can do this."


async def test_controls_need_the_token_meetbridge_gave_that_device(
    service: RunningApp, meeting: tuple[str, Device, Device, SignallingParticipant]
) -> None:
    _, alice, _, _ = meeting
    no_token = await service.http.post("/api/meetings/controls/end", json={})
    assert no_token.status_code == 401
    forged = alice.controls[:-4] + ("AAAA" if not alice.controls.endswith("AAAA") else "BBBB")
    assert (await act(service, forged, "end")).status_code == 401
    non_ascii = await service.http.post(
        "/api/meetings/controls/end",
        json={},
        headers={b"Authorization": "Bearer é".encode()},
    )
    assert non_ascii.status_code == 401
    assert (await act(service, alice, "no-such-action")).status_code == 404
    malformed = await service.http.post(
        "/api/meetings/controls/react",
        content=b"\xff[",
        headers={"Authorization": f"Bearer {alice.controls}"},
    )
    assert malformed.status_code == 400


async def test_the_host_removes_a_participant_who_then_cannot_come_back(
    service: RunningApp,
    mattermost: MattermostStandIn,
    meeting: tuple[str, Device, Device, SignallingParticipant],
    room_service: RoomService,
) -> None:
    channel, alice, bob, bob_socket = meeting
    assert (await act(service, alice, "remove", identity=bob.identity)).status_code == 200
    assert await bob_socket.closed_by_server()
    bob_user = bob.identity.split(".")[0]
    with pytest.raises(JoinRefusedError) as refused:
        await join(service, channel, bob_user)
    assert "removed you" in refused.value.detail
    assert (await act(service, bob, "raise-hand")).status_code == 403


async def test_the_host_hands_over_and_is_then_refused_host_actions(
    service: RunningApp,
    meeting: tuple[str, Device, Device, SignallingParticipant],
    room_service: RoomService,
) -> None:
    channel, alice, bob, _ = meeting
    assert (await act(service, alice, "make-host", identity=bob.identity)).status_code == 200
    bobs = await room_service.get_participant(f"mb-{channel}", bob.identity)
    alices = await room_service.get_participant(f"mb-{channel}", alice.identity)
    assert bobs.attributes["meetbridge.role"] == "host"
    assert alices.attributes["meetbridge.role"] == "participant"
    assert (await act(service, alice, "mute-all")).status_code == 403
    assert (await act(service, bob, "mute-all")).status_code == 200


async def test_the_host_ends_the_meeting_for_everyone(
    service: RunningApp,
    meeting: tuple[str, Device, Device, SignallingParticipant],
    room_service: RoomService,
) -> None:
    channel, alice, _, bob_socket = meeting
    assert (await act(service, alice, "end")).status_code == 200
    assert await bob_socket.closed_by_server()
    assert await room_service.list_rooms([f"mb-{channel}"]) == []


async def test_anyone_raises_a_hand_and_reactions_are_rate_limited(
    service: RunningApp, meeting: tuple[str, Device, Device, SignallingParticipant]
) -> None:
    _, _, bob, _ = meeting
    assert (await act(service, bob, "raise-hand")).status_code == 200
    assert (await act(service, bob, "lower-hand")).status_code == 200
    assert (await act(service, bob, "chat", text="hello")).status_code == 200
    assert (await act(service, bob, "chat", text="x" * 4001)).status_code == 400
    assert (await act(service, bob, "react", emoji="x" * 17)).status_code == 400
    # Every call counts, a malformed one too (issue 20): one more well-formed one, then limited.
    assert [(await act(service, bob, "react", emoji="👍")).status_code for _ in range(3)] == [
        200,
        200,
        429,
    ]


async def test_a_system_admin_may_take_host_and_end_the_meeting(
    service: RunningApp,
    mattermost: MattermostStandIn,
    meeting: tuple[str, Device, Device, SignallingParticipant],
    livekit_server: LiveKitServer,
    room_service: RoomService,
) -> None:
    channel, _, _, bob_socket = meeting
    admin = mattermost.add_user("sysadmin", roles="system_user system_admin")
    admins = await join(service, channel, admin)
    assert admins.identity.startswith(f"{admin}.")
    async with SignallingParticipant(livekit_server.ws_url, admins.livekit_token):
        taken = await act(service, admins, "make-host", identity=admins.identity)
        assert taken.status_code == 200, taken.text
        mine = await room_service.get_participant(f"mb-{channel}", admins.identity)
        assert mine.attributes["meetbridge.role"] == "host"
        assert (await act(service, admins, "end")).status_code == 200
    assert await bob_socket.closed_by_server()


async def test_recording_is_asked_on_or_off_and_stopping_nothing_says_so(
    service: RunningApp, meeting: tuple[str, Device, Device, SignallingParticipant]
) -> None:
    channel, alice, _, _ = meeting
    for body in ({}, {"on": "yes"}, {"on": 1}, {"on": None}):
        refused = await act(service, alice, "recording", **body)
        assert refused.status_code == 400, (body, refused.text)
    nothing = await act(service, alice, "recording", on=False)
    assert nothing.status_code == 409
    assert nothing.json()["error"] == "This meeting is not being recorded."
    assert not await service.components.recordings.is_recording(ChannelId(channel))
