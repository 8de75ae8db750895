"""meetbridge's LiveKit pieces against a real livekit-server: tokens, RoomService, webhooks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import httpx2
import orjson
import pytest
import websockets

from meetbridge.clock import SystemClock
from meetbridge.engines.livekit.models import Permission
from meetbridge.engines.livekit.rooms import (
    LiveKitNotFoundError,
    LiveKitUnauthorizedError,
    RoomService,
    build_http_client,
)
from meetbridge.engines.livekit.tokens import (
    AccessTokenRequest,
    TrackSource,
    admin_grant,
    member_grant,
    mint,
)
from meetbridge.engines.livekit.webhooks import (
    EventKind,
    WebhookEvent,
    WebhookRefusal,
    verify_webhook,
)
from tests.support.livekit import (
    LiveKitServer,
    ReceivedWebhook,
    SignallingParticipant,
    WebhookReceiver,
)

pytestmark = pytest.mark.livekit


def member_token(server: LiveKitServer, room: str, identity: str, **extra: object) -> str:
    request = AccessTokenRequest(identity=identity, grant=member_grant(room), **extra)  # type: ignore[arg-type]
    return mint(server.api_key.key, server.api_key.secret, request, time.time())


async def twirp(server: LiveKitServer, method: str, token: str, body: object) -> httpx2.Response:
    async with httpx2.AsyncClient(base_url=server.url) as http:
        return await http.post(
            f"/twirp/livekit.RoomService/{method}",
            content=orjson.dumps(body),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )


def test_the_server_runs_with_the_local_config_and_the_secret_stays_off_its_command_line(
    livekit_server: LiveKitServer,
) -> None:
    started = next(
        orjson.loads(line)
        for line in livekit_server.log_tail(1_000_000).splitlines()
        if '"starting LiveKit server"' in line
    )
    assert started["version"] == "1.13.5"
    assert started["portHttp"] == livekit_server.http_port
    assert started["nodeIP"] == "127.0.0.1"
    assert started["bindAddresses"] == ["127.0.0.1"]
    assert started["rtc.portTCP"] == livekit_server.rtc_tcp_port
    assert started["rtc.portUDP"]["Start"] == livekit_server.rtc_udp_port
    assert livekit_server.process is not None
    command_line = Path(f"/proc/{livekit_server.process.pid}/cmdline").read_bytes()
    assert livekit_server.api_key.secret.encode() not in command_line


async def test_a_created_room_is_listed_with_its_settings(
    room_service: RoomService, room_name: str
) -> None:
    created = await room_service.create_room(
        room_name, max_participants=7, empty_timeout=45, departure_timeout=5, metadata='{"t":"☕"}'
    )
    assert created.sid.startswith("RM_")
    (listed,) = await room_service.list_rooms([room_name])
    assert (listed.sid, listed.name, listed.metadata) == (created.sid, room_name, '{"t":"☕"}')
    assert (listed.max_participants, listed.empty_timeout, listed.departure_timeout) == (7, 45, 5)
    assert room_name in {room.name for room in await room_service.list_rooms()}
    await room_service.delete_room(room_name)
    assert await room_service.list_rooms([room_name]) == []


async def test_creating_an_existing_room_returns_it_unchanged(
    room_service: RoomService, room_name: str
) -> None:
    first = await room_service.create_room(room_name, metadata="first")
    again = await room_service.create_room(room_name, metadata="second")
    assert again.sid == first.sid
    await room_service.delete_room(room_name)


async def test_unknown_rooms_and_participants_are_not_found(
    room_service: RoomService, room_name: str
) -> None:
    with pytest.raises(LiveKitNotFoundError):
        await room_service.delete_room(room_name)
    await room_service.create_room(room_name)
    with pytest.raises(LiveKitNotFoundError):
        await room_service.get_participant(room_name, "nobody")
    with pytest.raises(LiveKitNotFoundError):
        await room_service.remove_participant(room_name, "nobody")
    await room_service.delete_room(room_name)


async def test_a_member_token_is_refused_for_server_calls(
    livekit_server: LiveKitServer, room_name: str
) -> None:
    token = member_token(livekit_server, room_name, "alice")
    for method, body in [("ListRooms", {}), ("ListParticipants", {"room": room_name})]:
        response = await twirp(livekit_server, method, token, body)
        assert response.status_code == 401
        assert response.json()["code"] == "unauthenticated"


async def test_an_admin_token_manages_only_its_own_room(
    livekit_server: LiveKitServer, room_service: RoomService, room_name: str
) -> None:
    await room_service.create_room(room_name)
    key, secret = livekit_server.api_key.key, livekit_server.api_key.secret
    other_room = mint(key, secret, AccessTokenRequest(grant=admin_grant("elsewhere")), time.time())
    own_room = mint(key, secret, AccessTokenRequest(grant=admin_grant(room_name)), time.time())
    assert (
        await twirp(livekit_server, "ListParticipants", other_room, {"room": room_name})
    ).status_code == 401
    assert (
        await twirp(livekit_server, "ListParticipants", own_room, {"room": room_name})
    ).status_code == 200
    await room_service.delete_room(room_name)


async def test_a_client_with_the_wrong_secret_is_unauthorized(
    livekit_server: LiveKitServer,
) -> None:
    http = build_http_client(livekit_server.ws_url)
    forged = RoomService(http, livekit_server.api_key.key, "x" * 43, SystemClock())
    with pytest.raises(LiveKitUnauthorizedError):
        await forged.list_rooms()
    await forged.close()


async def test_a_minted_member_token_joins_and_the_server_api_manages_the_participant(
    livekit_server: LiveKitServer, room_service: RoomService, room_name: str
) -> None:
    await room_service.create_room(room_name)
    token = member_token(
        livekit_server,
        room_name,
        "mm-user-1#tab-1",
        name="Zoë Ünlü",
        metadata='{"host":true}',
        attributes={"mattermost_user": "u1"},
    )
    async with SignallingParticipant(livekit_server.ws_url, token) as alice:
        (listed,) = await room_service.list_participants(room_name)
        assert (listed.identity, listed.name) == ("mm-user-1#tab-1", "Zoë Ünlü")
        assert listed.metadata == '{"host":true}'
        assert listed.attributes == {"mattermost_user": "u1"}
        assert listed.permission is not None
        assert set(listed.permission.can_publish_sources) == {
            "CAMERA", "MICROPHONE", "SCREEN_SHARE", "SCREEN_SHARE_AUDIO",
        }  # fmt: skip

        muted_to_audio = Permission(
            can_subscribe=True, can_publish=True, can_publish_sources=("MICROPHONE",)
        )
        updated = await room_service.update_participant(
            room_name, listed.identity, metadata="{}", permission=muted_to_audio,
            attributes={"hand": "1"},
        )  # fmt: skip
        assert updated.metadata == "{}"
        assert updated.attributes == {"mattermost_user": "u1", "hand": "1"}
        fetched = await room_service.get_participant(room_name, listed.identity)
        assert fetched.permission is not None
        assert fetched.permission.can_publish_sources == ("MICROPHONE",)
        assert not fetched.permission.can_publish_data

        await room_service.send_data(room_name, b'{"type":"reaction"}', topic="reactions")
        room = await room_service.update_room_metadata(room_name, '{"hands":["u1"]}')
        assert room.metadata == '{"hands":["u1"]}'

        await room_service.remove_participant(room_name, listed.identity)
        assert await alice.closed_by_server()
    assert await room_service.list_participants(room_name) == []
    await room_service.delete_room(room_name)


async def test_a_token_signed_with_another_secret_cannot_join(
    livekit_server: LiveKitServer, room_name: str
) -> None:
    request = AccessTokenRequest(identity="eve", grant=member_grant(room_name))
    forged = mint(livekit_server.api_key.key, "f" * 43, request, time.time())
    with pytest.raises(websockets.InvalidStatus) as refused:
        await SignallingParticipant(livekit_server.ws_url, forged).__aenter__()
    assert refused.value.response.status_code == 401


async def test_a_participant_restricted_by_token_sources_is_restricted_on_the_server(
    livekit_server: LiveKitServer, room_service: RoomService, room_name: str
) -> None:
    request = AccessTokenRequest(
        identity="listener", grant=member_grant(room_name, sources=(TrackSource.MICROPHONE,))
    )
    token = mint(livekit_server.api_key.key, livekit_server.api_key.secret, request, time.time())
    async with SignallingParticipant(livekit_server.ws_url, token):
        participant = await room_service.get_participant(room_name, "listener")
        assert participant.permission is not None
        assert participant.permission.can_publish_sources == ("MICROPHONE",)
    await room_service.delete_room(room_name)


def event_for(room: str, kind: EventKind) -> Callable[[ReceivedWebhook], bool]:
    def matches(webhook: ReceivedWebhook) -> bool:
        event = orjson.loads(webhook.body)
        return bool(event.get("event") == kind and event.get("room", {}).get("name") == room)

    return matches


def verified(server: LiveKitServer, webhook: ReceivedWebhook) -> WebhookEvent:
    keys = {server.api_key.key: server.api_key.secret}
    event = verify_webhook(webhook.body, webhook.headers["authorization"], keys, time.time())
    assert isinstance(event, WebhookEvent), event
    return event


async def test_room_started_and_finished_webhooks_from_the_server_verify(
    livekit_server: LiveKitServer,
    livekit_webhooks: WebhookReceiver,
    room_service: RoomService,
    room_name: str,
) -> None:
    created = await room_service.create_room(room_name)
    (started_webhook,) = await asyncio.to_thread(
        livekit_webhooks.wait_for, event_for(room_name, EventKind.ROOM_STARTED)
    )
    assert started_webhook.headers["content-type"] == "application/webhook+json"
    started = verified(livekit_server, started_webhook)
    assert started.kind is EventKind.ROOM_STARTED
    assert started.room is not None
    assert (started.room.sid, started.room.name) == (created.sid, room_name)
    assert started.id.startswith("EV_")
    assert abs(started.created_at - time.time()) < 60

    await room_service.delete_room(room_name)
    (finished_webhook,) = await asyncio.to_thread(
        livekit_webhooks.wait_for, event_for(room_name, EventKind.ROOM_FINISHED)
    )
    finished = verified(livekit_server, finished_webhook)
    assert finished.kind is EventKind.ROOM_FINISHED
    assert finished.id != started.id


async def test_a_real_webhook_is_refused_when_tampered_with_or_under_another_key(
    livekit_server: LiveKitServer,
    livekit_webhooks: WebhookReceiver,
    room_service: RoomService,
    room_name: str,
) -> None:
    await room_service.create_room(room_name, metadata="genuine")
    (webhook,) = await asyncio.to_thread(
        livekit_webhooks.wait_for, event_for(room_name, EventKind.ROOM_STARTED)
    )
    authorization = webhook.headers["authorization"]
    keys = {livekit_server.api_key.key: livekit_server.api_key.secret}
    tampered = webhook.body.replace(b"genuine", b"forged!")
    assert isinstance(verify_webhook(tampered, authorization, keys, time.time()), WebhookRefusal)
    other_keys = {livekit_server.api_key.key: "z" * 43}
    assert isinstance(
        verify_webhook(webhook.body, authorization, other_keys, time.time()), WebhookRefusal
    )
    stale = verify_webhook(webhook.body, authorization, keys, time.time() + 5 * 60 + 61)
    assert isinstance(stale, WebhookRefusal)
    await room_service.delete_room(room_name)


async def test_removing_a_participant_sends_a_signed_participant_webhook(
    livekit_server: LiveKitServer,
    livekit_webhooks: WebhookReceiver,
    room_service: RoomService,
    room_name: str,
) -> None:
    await room_service.create_room(room_name)
    token = member_token(livekit_server, room_name, "bob", name="Bob")
    async with SignallingParticipant(livekit_server.ws_url, token) as bob:
        await room_service.remove_participant(room_name, "bob")
        assert await bob.closed_by_server()
    # Signalling only, no ICE: LiveKit reports the departure as an aborted connection.
    (webhook,) = await asyncio.to_thread(
        livekit_webhooks.wait_for,
        event_for(room_name, EventKind.PARTICIPANT_CONNECTION_ABORTED),
    )
    event = verified(livekit_server, webhook)
    assert event.participant is not None
    assert (event.participant.identity, event.participant.name) == ("bob", "Bob")
    await room_service.delete_room(room_name)


async def test_a_webhook_answered_with_503_is_retried_with_the_same_event_id(
    livekit_server: LiveKitServer,
    livekit_webhooks: WebhookReceiver,
    room_service: RoomService,
    room_name: str,
) -> None:
    started_here = event_for(room_name, EventKind.ROOM_STARTED)
    livekit_webhooks.status_for = lambda webhook: 503 if started_here(webhook) else 200
    try:
        await room_service.create_room(room_name)
        first, retry = await asyncio.to_thread(livekit_webhooks.wait_for, started_here, 20, 2)
    finally:
        livekit_webhooks.status_for = lambda webhook: 200
    assert (first.answered, retry.answered) == (503, 503)
    # The retry is the same request: same bytes, same signature, so the same event id.
    assert retry.body == first.body
    assert retry.headers["authorization"] == first.headers["authorization"]
    assert verified(livekit_server, retry).id == verified(livekit_server, first).id
    assert retry.received_at - first.received_at >= 0.5
    await room_service.delete_room(room_name)
