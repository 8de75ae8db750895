"""LiveKit's signed webhooks drive meetings, and reconciliation with the room list repairs a
lost one: against a real livekit-server, whose webhooks (captured by the session receiver) are
handed to meetbridge byte for byte."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from collections.abc import AsyncIterator

import orjson
import pytest

from meetbridge.config import ServiceConfig
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.domain.meetings import Meeting
from meetbridge.engines.livekit import hs256
from meetbridge.engines.livekit.rooms import RoomService
from meetbridge.store import meetings_repo
from tests.conftest import RunningApp, running_on_livekit
from tests.support.livekit import LiveKitServer, ReceivedWebhook, WebhookReceiver
from tests.support.mattermost_standin import MattermostStandIn


@pytest.fixture
async def service(
    config: ServiceConfig, mattermost: MattermostStandIn, livekit_server: LiveKitServer
) -> AsyncIterator[RunningApp]:
    async with running_on_livekit(config, mattermost, livekit_server) as running_app:
        yield running_app


async def delivered(
    receiver: WebhookReceiver, event: str, room: str, timeout: float = 15.0
) -> ReceivedWebhook:
    def matches(webhook: ReceivedWebhook) -> bool:
        data = orjson.loads(webhook.body)
        return bool(data.get("event") == event and data.get("room", {}).get("name") == room)

    [webhook] = await asyncio.to_thread(receiver.wait_for, matches, timeout)
    return webhook


async def forward(service: RunningApp, webhook: ReceivedWebhook) -> tuple[int, str]:
    response = await service.http.post(
        "/api/livekit/webhook",
        content=webhook.body,
        headers={"Authorization": webhook.headers["authorization"]},
    )
    return response.status_code, response.text


def signed(body: bytes, server: LiveKitServer, issued: float) -> str:
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    claims = {
        "iss": server.api_key.key,
        "nbf": int(issued),
        "iat": int(issued),
        "exp": int(issued) + 300,
        "sha256": digest,
    }
    return hs256.encode(claims, server.api_key.secret)


async def meeting_of(service: RunningApp, channel: str) -> Meeting | None:
    async with service.components.core.database.read() as conn:
        return await meetings_repo.current_for_channel(conn, ChannelId(channel))


async def started(
    service: RunningApp, mattermost: MattermostStandIn, receiver: WebhookReceiver
) -> tuple[str, str]:
    """A channel whose LiveKit meeting has begun (room_started delivered); (channel, user)."""
    alice = mattermost.add_user("alice")
    channel = mattermost.add_channel("Planning", kind="P")
    await service.components.join.start(ChannelId(channel), UserId(alice), "Plans")
    assert await forward(service, await delivered(receiver, "room_started", f"mb-{channel}")) == (
        200,
        '{"status":"stored"}',
    )
    await service.components.applier.drain()
    return channel, alice


async def test_real_webhooks_start_and_end_the_channels_meeting(
    service: RunningApp,
    mattermost: MattermostStandIn,
    livekit_webhooks: WebhookReceiver,
    room_service: RoomService,
) -> None:
    channel, _ = await started(service, mattermost, livekit_webhooks)
    meeting = await meeting_of(service, channel)
    assert meeting is not None and meeting.conference == f"mb-{channel}"
    await service.components.livekit.end(ChannelId(channel))
    finished = await delivered(livekit_webhooks, "room_finished", f"mb-{channel}")
    assert (await forward(service, finished))[0] == 200
    await service.components.applier.drain()
    assert await meeting_of(service, channel) is None


async def test_a_replayed_webhook_is_acknowledged_and_dropped(
    service: RunningApp, mattermost: MattermostStandIn, livekit_webhooks: WebhookReceiver
) -> None:
    channel, _ = await started(service, mattermost, livekit_webhooks)
    again = await delivered(livekit_webhooks, "room_started", f"mb-{channel}")
    assert await forward(service, again) == (200, '{"status":"duplicate"}')
    assert await service.components.applier.drain() == 0


async def test_forged_altered_and_stale_webhooks_are_refused_and_change_nothing(
    service: RunningApp,
    mattermost: MattermostStandIn,
    livekit_webhooks: WebhookReceiver,
    livekit_server: LiveKitServer,
) -> None:
    channel = mattermost.add_channel("Planning", kind="P")
    body = orjson.dumps(
        {"event": "room_started", "id": "EV_forged", "room": {"name": f"mb-{channel}"}}
    )
    genuine = signed(body, livekit_server, time.time())
    forged = hs256.encode({"iss": livekit_server.api_key.key, "sha256": "x"}, "not-the-secret")
    stale = signed(body, livekit_server, time.time() - 3600)
    for headers, content in (
        ({}, body),
        ({"Authorization": forged}, body),
        ({"Authorization": genuine}, body.replace(b"EV_forged", b"EV_altered")),
        ({"Authorization": stale}, body),
        ({"Authorization": "not a token at all"}, body),
        ({"Authorization": genuine}, b"\xff\xfe not json"),
    ):
        response = await service.http.post("/api/livekit/webhook", content=content, headers=headers)
        assert response.status_code == 401, response.text
        assert "error" in response.json()
    assert await service.components.applier.drain() == 0
    assert await meeting_of(service, channel) is None


async def test_a_participant_is_a_leg_of_the_user_meetbridge_minted_it_for(
    service: RunningApp,
    mattermost: MattermostStandIn,
    livekit_webhooks: WebhookReceiver,
    livekit_server: LiveKitServer,
) -> None:
    channel, alice = await started(service, mattermost, livekit_webhooks)
    mallory = mattermost.add_user("mallory")
    for sid, identity, user in (
        ("PA_alice", f"{alice}.a1b2c3d4", alice),
        ("PA_spoof", "someone.else", mallory),  # attribute and identity disagree: nobody
    ):
        body = orjson.dumps(
            {
                "event": "participant_joined",
                "id": f"EV_{sid}",
                "createdAt": str(int(time.time())),
                "room": {"name": f"mb-{channel}"},
                "participant": {
                    "sid": sid,
                    "identity": identity,
                    "name": "Alice",
                    "attributes": {"meetbridge.user": user, "meetbridge.role": "host"},
                },
            }
        )
        response = await service.http.post(
            "/api/livekit/webhook",
            content=body,
            headers={"Authorization": signed(body, livekit_server, time.time())},
        )
        assert response.status_code == 200
    await service.components.applier.drain()
    meeting = await meeting_of(service, channel)
    assert meeting is not None
    assert meeting.legs["PA_alice"].user_id == alice
    assert meeting.legs["PA_spoof"].user_id is None


async def test_a_lost_room_finished_webhook_is_repaired_by_reconciliation(
    service: RunningApp,
    mattermost: MattermostStandIn,
    livekit_webhooks: WebhookReceiver,
    room_service: RoomService,
) -> None:
    channel, _ = await started(service, mattermost, livekit_webhooks)
    await room_service.delete_room(f"mb-{channel}")  # its room_finished is never forwarded
    await asyncio.sleep(0.2)
    assert await meeting_of(service, channel) is not None
    assert await service.components.livekit_reconciler.reconcile() == 1
    await service.components.applier.drain()
    assert await meeting_of(service, channel) is None
    assert await service.components.livekit_reconciler.reconcile() == 0


async def test_reconciliation_removes_participants_the_room_no_longer_has(
    service: RunningApp,
    mattermost: MattermostStandIn,
    livekit_webhooks: WebhookReceiver,
    livekit_server: LiveKitServer,
) -> None:
    channel, alice = await started(service, mattermost, livekit_webhooks)
    body = orjson.dumps(
        {
            "event": "participant_joined",
            "id": "EV_ghost",
            "room": {"name": f"mb-{channel}"},
            "participant": {
                "sid": "PA_ghost",
                "identity": f"{alice}.deadbeef",
                "attributes": {"meetbridge.user": alice},
            },
        }
    )
    headers = {"Authorization": signed(body, livekit_server, time.time())}
    assert (
        await service.http.post("/api/livekit/webhook", content=body, headers=headers)
    ).is_success
    await service.components.applier.drain()
    meeting = await meeting_of(service, channel)
    assert meeting is not None and "PA_ghost" in meeting.legs
    assert await service.components.livekit_reconciler.reconcile() == 1  # its leave was lost
    await service.components.applier.drain()
    meeting = await meeting_of(service, channel)
    assert meeting is None or "PA_ghost" not in meeting.legs
