"""/meet leave, end and host for a LiveKit meeting, with the real Mattermost and a real
livekit-server: each is confirmed in a Mattermost dialog (the only proof of who asks), and acts on
the room through LiveKit's server API. Participants here are signalling-only LiveKit clients
(listed by ListParticipants, enough for what these commands change)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from meetbridge.domain.commands import Verb
from meetbridge.engines.livekit.rooms import RoomService
from tests.e2e.live import LiveMeetbridge, start_live, stop_live
from tests.e2e.mattermost.bootstrap import Account, MattermostWorld
from tests.support.livekit import LiveKitServer, SignallingParticipant

pytestmark = pytest.mark.mattermost


@pytest.fixture
async def live(
    mattermost: MattermostWorld, tmp_path: Path, livekit_server: LiveKitServer
) -> AsyncIterator[LiveMeetbridge]:
    running, server, task = await start_live(
        mattermost,
        tmp_path,
        livekit_url=livekit_server.ws_url,
        livekit_api_key=livekit_server.api_key.key,
        livekit_api_secret=livekit_server.api_key.secret,
    )
    yield running
    await stop_live(running, server, task)


def livekit_token(html: str) -> str:
    start = html.index('id="meetbridge-config">') + len('id="meetbridge-config">')
    config = json.loads(html[start : html.index("</script>", start)])
    return str(config["livekit"]["token"])


async def token_for(live: LiveMeetbridge, user: Account, text: str = "join") -> str:
    link = (await live.meet(user, "public", text))["goto_location"]
    page = await live.open_link_as(link, user)
    assert page.status_code == 200, (text, page.headers.get("location"))
    return livekit_token(page.text)


async def use_engine(live: LiveMeetbridge, mattermost: MattermostWorld, engine: str) -> None:
    chosen = await live.meet_confirmed(mattermost.admin, "public", f"engine {engine}")
    assert chosen.status_code == 200 and not chosen.json(), chosen.text


async def users_in(rooms: RoomService, room: str) -> list[str]:
    return sorted(
        p.attributes.get("meetbridge.user", "") for p in await rooms.list_participants(room)
    )


async def test_meet_leave_removes_every_device_of_the_caller_and_nobody_else(
    live: LiveMeetbridge,
    mattermost: MattermostWorld,
    livekit_server: LiveKitServer,
    room_service: RoomService,
) -> None:
    alice, bob = mattermost.users["alice"], mattermost.users["bob"]
    await use_engine(live, mattermost, "livekit")
    room = f"mb-{mattermost.channels['public']}"
    tokens = [await token_for(live, alice, "start"), await token_for(live, alice)]
    tokens.append(await token_for(live, bob))
    async with contextlib.AsyncExitStack() as stack:
        for token in tokens:
            await stack.enter_async_context(SignallingParticipant(livekit_server.ws_url, token))
        assert await users_in(room_service, room) == sorted([alice.id, alice.id, bob.id])

        unconfirmed = await live.meet(alice, "public", "leave")  # asks first: nothing yet
        assert await users_in(room_service, room) == sorted([alice.id, alice.id, bob.id])
        assert "not available" not in unconfirmed.get("text", "")

        submitted = await live.meet_confirmed(alice, "public", "leave")
        assert submitted.status_code == 200, submitted.text
        assert await users_in(room_service, room) == [bob.id]
    # Leaving is not being removed: alice may come back.
    assert await token_for(live, alice)


async def test_meet_end_is_refused_to_a_participant_and_deletes_the_room_for_the_host(
    live: LiveMeetbridge,
    mattermost: MattermostWorld,
    livekit_server: LiveKitServer,
    room_service: RoomService,
) -> None:
    alice, bob = mattermost.users["alice"], mattermost.users["bob"]
    await use_engine(live, mattermost, "livekit")
    room = f"mb-{mattermost.channels['public']}"
    host_token = await token_for(live, alice, "start")
    async with SignallingParticipant(livekit_server.ws_url, host_token):
        refused = await live.meet(bob, "public", "end")
        assert refused["text"] == "Only the meeting's host or a system admin can end it."
        assert await room_service.list_rooms([room])

        submitted = await live.meet_confirmed(alice, "public", "end")
        assert submitted.status_code == 200 and submitted.json() in ({}, None), submitted.text
        assert await room_service.list_rooms([room]) == []


async def test_meet_host_hands_host_to_a_present_member_and_changes_their_role(
    live: LiveMeetbridge,
    mattermost: MattermostWorld,
    livekit_server: LiveKitServer,
    room_service: RoomService,
) -> None:
    alice, bob = mattermost.users["alice"], mattermost.users["bob"]
    await use_engine(live, mattermost, "livekit")
    room = f"mb-{mattermost.channels['public']}"
    alice_token, bob_token = await token_for(live, alice, "start"), await token_for(live, bob)
    async with (
        SignallingParticipant(livekit_server.ws_url, alice_token),
        SignallingParticipant(livekit_server.ws_url, bob_token),
    ):
        by_bob = await live.meet(bob, "public", f"host @{bob.username}")
        assert by_bob["text"] == "Only the meeting's host or a system admin can hand host over."
        nobody = await live.meet(alice, "public", "host @nosuchuser")
        assert "is not in this meeting" in nobody["text"]

        submitted = await live.meet_confirmed(alice, "public", f"host @{bob.username}")
        assert submitted.status_code == 200, submitted.text
        roles = {
            p.attributes["meetbridge.user"]: p.attributes["meetbridge.role"]
            for p in await room_service.list_participants(room)
        }
        assert roles == {bob.id: "host", alice.id: "participant"}


async def test_meet_leave_end_and_host_say_so_where_the_engine_cannot(
    live: LiveMeetbridge, mattermost: MattermostWorld
) -> None:
    alice = mattermost.users["alice"]
    await use_engine(live, mattermost, "pexip")
    for text in ("leave", "end", "host @bob"):
        answer = await live.meet(alice, "public", text)
        assert (
            answer["text"]
            == f"`/meet {text.split()[0]}` is not available for Pexip Infinity meetings."
        )


async def test_meet_autocomplete_and_help_name_every_subcommand(
    live: LiveMeetbridge, mattermost: MattermostWorld
) -> None:
    async with mattermost.client(mattermost.admin) as api:
        commands = (
            await api.get(
                "/commands", params={"team_id": mattermost.team_id, "custom_only": "true"}
            )
        ).json()
    [meet] = [c for c in commands if c["trigger"] == "meet"]
    helped = (await live.meet(mattermost.users["alice"], "public", "help"))["text"]
    for verb in Verb:
        if verb is not Verb.ADMIN:  # for system admins only: in their help, not in the hint
            assert verb.value in meet["auto_complete_hint"], verb
            assert f"/meet {verb.value}" in helped or verb is Verb.START, verb
