"""What livekit-server v1.13.5 does that meetbridge's LiveKit engine has to design around.

Each test pins one observed behaviour of the real server; if an upgrade changes it, the test
says which assumption of the engine to revisit.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import websockets

from meetbridge.engines.livekit.rooms import RoomService
from meetbridge.engines.livekit.tokens import AccessTokenRequest, member_grant, mint
from tests.support.livekit import LiveKitServer, SignallingParticipant
from tests.support.livekit_fixtures import room_service_for

pytestmark = pytest.mark.livekit


def token_for(server: LiveKitServer, room: str, identity: str) -> str:
    request = AccessTokenRequest(identity=identity, grant=member_grant(room))
    return mint(server.api_key.key, server.api_key.secret, request, time.time())


async def test_removal_does_not_revoke_the_token_so_join_tokens_must_be_short_lived(
    livekit_server: LiveKitServer, room_service: RoomService, room_name: str
) -> None:
    # RoomParticipantIdentity.revoke_token_ts is not implemented by the open-source server:
    # a removed participant reconnects with the token they still hold (until its exp).
    await room_service.create_room(room_name)
    token = token_for(livekit_server, room_name, "removed")
    async with SignallingParticipant(livekit_server.ws_url, token) as first:
        await room_service.remove_participant(room_name, "removed")
        assert await first.closed_by_server()
    async with SignallingParticipant(livekit_server.ws_url, token):
        listed = await room_service.list_participants(room_name)
        assert [p.identity for p in listed] == ["removed"]
    await room_service.delete_room(room_name)


async def test_a_second_connection_with_the_same_identity_replaces_the_first(
    livekit_server: LiveKitServer, room_service: RoomService, room_name: str
) -> None:
    # One person on several devices therefore needs one identity per device.
    await room_service.create_room(room_name)
    async with (
        SignallingParticipant(
            livekit_server.ws_url, token_for(livekit_server, room_name, "same")
        ) as laptop,
        SignallingParticipant(livekit_server.ws_url, token_for(livekit_server, room_name, "same")),
    ):
        assert await laptop.closed_by_server(timeout=5)
        assert [p.identity for p in await room_service.list_participants(room_name)] == ["same"]
    await room_service.delete_room(room_name)


async def test_a_full_room_refuses_the_join_with_an_unhelpful_http_500(
    livekit_server: LiveKitServer, room_service: RoomService, room_name: str
) -> None:
    # The browser only sees "connection closed by media": meetbridge must check the limit
    # itself before handing out a token to give people a clear message.
    await room_service.create_room(room_name, max_participants=1)
    async with SignallingParticipant(
        livekit_server.ws_url, token_for(livekit_server, room_name, "first")
    ):
        late = SignallingParticipant(
            livekit_server.ws_url, token_for(livekit_server, room_name, "late")
        )
        with pytest.raises(websockets.InvalidStatus) as refused:
            await late.__aenter__()
        assert refused.value.response.status_code == 500
    await room_service.delete_room(room_name)


async def test_create_room_on_an_existing_room_changes_nothing(
    room_service: RoomService, room_name: str
) -> None:
    # Settings of a running room change through UpdateRoomMetadata, not a second CreateRoom.
    await room_service.create_room(room_name, metadata="first", max_participants=3)
    again = await room_service.create_room(room_name, metadata="second", max_participants=9)
    assert (again.metadata, again.max_participants) == ("first", 3)
    await room_service.delete_room(room_name)


async def test_a_join_token_creates_its_room_when_none_exists(
    livekit_server: LiveKitServer, room_service: RoomService, room_name: str
) -> None:
    # room.auto_create defaults to true: a valid token is enough to open a room.
    async with SignallingParticipant(
        livekit_server.ws_url, token_for(livekit_server, room_name, "opener")
    ):
        assert [room.name for room in await room_service.list_rooms([room_name])] == [room_name]
    await room_service.delete_room(room_name)


async def test_with_auto_create_off_only_the_server_api_opens_rooms(
    livekit_binary: Path, room_name: str
) -> None:
    # `room: {auto_create: false}` makes a join token useless for a room meetbridge has not
    # created (or has already ended), so an ended meeting cannot be reopened by a stale link.
    server = LiveKitServer(livekit_binary, room_settings={"auto_create": False})
    server.start()
    rooms = room_service_for(server)
    try:
        stray = SignallingParticipant(server.ws_url, token_for(server, room_name, "early"))
        with pytest.raises(websockets.InvalidStatus) as refused:
            await stray.__aenter__()
        assert refused.value.response.status_code == 404
        await rooms.create_room(room_name)
        async with SignallingParticipant(server.ws_url, token_for(server, room_name, "invited")):
            assert [p.identity for p in await rooms.list_participants(room_name)] == ["invited"]
    finally:
        await rooms.close()
        server.remove()
