"""A real participant with media (LiveKit's Python real-time SDK, publishing a synthetic
microphone) joins with the token meetbridge minted: LiveKit's own participant_joined webhook,
handed to meetbridge byte for byte, makes them a leg of the channel's meeting under their
Mattermost user; meetbridge's data messages reach them; the host's mute reaches their track."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from meetbridge.config import ServiceConfig
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.engines.livekit.rooms import RoomService
from meetbridge.store import meetings_repo
from tests.conftest import RunningApp, running_on_livekit
from tests.support.livekit import LiveKitServer, ReceivedWebhook, WebhookReceiver
from tests.support.mattermost_standin import MattermostStandIn

rtc = pytest.importorskip("livekit.rtc")


@pytest.fixture
async def service(
    config: ServiceConfig, mattermost: MattermostStandIn, livekit_server: LiveKitServer
) -> AsyncIterator[RunningApp]:
    async with running_on_livekit(config, mattermost, livekit_server) as running_app:
        yield running_app


async def page_config(service: RunningApp, channel: str, user: str) -> dict[str, Any]:
    link = await service.components.join.start(ChannelId(channel), UserId(user))
    return dict((await service.components.join.open(link.rsplit("/", 1)[1])).page_config)


async def publishing(url: str, token: str) -> Any:
    """A connected room whose participant publishes a microphone of silence-free tone."""
    room = rtc.Room()
    await room.connect(url, token)
    source = rtc.AudioSource(48000, 1)
    track = rtc.LocalAudioTrack.create_audio_track("mic", source)
    options = rtc.TrackPublishOptions()
    options.source = rtc.TrackSource.SOURCE_MICROPHONE
    await room.local_participant.publish_track(track, options)
    samples = bytes(range(256)) * 3 + bytes(192)  # 480 samples of 16-bit audio: 10 ms
    for _ in range(20):
        await source.capture_frame(rtc.AudioFrame(samples[:960], 48000, 1, 480))
    return room


async def forwarded(
    service: RunningApp, receiver: WebhookReceiver, event: str, room: str, identity: str = ""
) -> None:
    def matches(webhook: ReceivedWebhook) -> bool:
        data = orjson.loads(webhook.body)
        who = data.get("participant", {}).get("identity", "")
        return bool(
            data.get("event") == event
            and data.get("room", {}).get("name") == room
            and (not identity or who == identity)
        )

    [webhook] = await asyncio.to_thread(receiver.wait_for, matches, 30.0)
    answer = await service.http.post(
        "/api/livekit/webhook",
        content=webhook.body,
        headers={"Authorization": webhook.headers["authorization"]},
    )
    assert answer.status_code == 200, answer.text


async def test_a_participant_with_media_is_a_leg_of_their_user_and_hears_meetbridge(
    service: RunningApp,
    mattermost: MattermostStandIn,
    livekit_server: LiveKitServer,
    livekit_webhooks: WebhookReceiver,
    room_service: RoomService,
) -> None:
    alice, bob = mattermost.add_user("alice"), mattermost.add_user("bob")
    channel = mattermost.add_channel("Planning", kind="P")
    alices = await page_config(service, channel, alice)
    bobs = await page_config(service, channel, bob)
    room_name = f"mb-{channel}"
    bob_room = await publishing(livekit_server.ws_url, bobs["livekit"]["token"])
    messages: asyncio.Queue[tuple[str | None, bytes]] = asyncio.Queue()
    bob_room.on("data_received", lambda packet: messages.put_nowait((packet.topic, packet.data)))
    alice_room = await publishing(livekit_server.ws_url, alices["livekit"]["token"])
    try:
        await forwarded(service, livekit_webhooks, "room_started", room_name)
        await forwarded(
            service, livekit_webhooks, "participant_joined", room_name, bobs["identity"]
        )
        await service.components.applier.drain()
        async with service.components.core.database.read() as conn:
            meeting = await meetings_repo.current_for_channel(conn, ChannelId(channel))
        assert meeting is not None
        assert [leg.user_id for leg in meeting.legs.values()] == [bob]

        controls = {"Authorization": f"Bearer {alices['controls']['token']}"}
        raised = await service.http.post(
            "/api/meetings/controls/raise-hand", json={}, headers=controls
        )
        assert raised.status_code == 200
        topic, data = await asyncio.wait_for(messages.get(), 10)
        assert topic == "meetbridge.hands"
        assert orjson.loads(data)["queue"][0]["identity"] == alices["identity"]

        muted = await service.http.post(
            "/api/meetings/controls/mute", json={"identity": bobs["identity"]}, headers=controls
        )
        assert muted.status_code == 200, muted.text
        bob_now = await room_service.get_participant(room_name, bobs["identity"])
        assert [t.muted for t in bob_now.tracks if t.source == "MICROPHONE"] == [True]
        topic, data = await asyncio.wait_for(messages.get(), 10)
        assert topic == "meetbridge.notice" and orjson.loads(data)["kind"] == "muted-by-host"
    finally:
        await alice_room.disconnect()
        await bob_room.disconnect()
