"""The LiveKit engine's join path against a real livekit-server: /meet creates the channel's
room, a proven join link renders the meeting page with a LiveKit token for that room only, the
host is the one who started it, and a full meeting is refused with a sentence (LiveKit itself
would answer a bare 500)."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest

from meetbridge.config import ServiceConfig
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.engines.livekit.rooms import RoomService
from meetbridge.services.join import JoinRefusedError, Refusal
from meetbridge.web.app import create_app
from tests.conftest import RunningApp, running, running_on_livekit
from tests.integration.test_links_identity import PUBLIC, BrowserTransport, follow
from tests.support.livekit import LiveKitServer, SignallingParticipant
from tests.support.mattermost_standin import MattermostStandIn, register_oauth_app


@pytest.fixture
async def service(
    config: ServiceConfig, mattermost: MattermostStandIn, livekit_server: LiveKitServer
) -> AsyncIterator[RunningApp]:
    async with running_on_livekit(config, mattermost, livekit_server) as running_app:
        await register_oauth_app(running_app.components)
        yield running_app


@pytest.fixture
async def browser(
    service: RunningApp, mattermost: MattermostStandIn
) -> AsyncIterator[httpx2.AsyncClient]:
    transport = BrowserTransport(service, mattermost)
    async with httpx2.AsyncClient(transport=transport, base_url=PUBLIC) as client:
        yield client


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * 4))
    return decoded


def page_config(html: str) -> dict[str, Any]:
    start = html.index('id="meetbridge-config">') + len('id="meetbridge-config">')
    config: dict[str, Any] = json.loads(html[start : html.index("</script>", start)])
    return config


async def start_meeting(service: RunningApp, channel: str, user: str) -> str:
    link: str = await service.components.join.start(ChannelId(channel), UserId(user), "Plans")
    return link


async def test_a_fresh_install_uses_livekit_by_default(service: RunningApp) -> None:
    assert service.components.state.settings.default_engine == "livekit"


async def test_meet_start_creates_the_channels_room_with_the_participant_limit(
    service: RunningApp, mattermost: MattermostStandIn, room_service: RoomService
) -> None:
    alice = mattermost.add_user("alice")
    channel = mattermost.add_channel("Planning", kind="P")
    await service.components.admin.change_setting("livekit_max_participants", 7, "test")
    await service.components.state.refresh()
    await start_meeting(service, channel, alice)
    [room] = await room_service.list_rooms([f"mb-{channel}"])
    assert room.max_participants == 7 and room.empty_timeout > 0
    assert json.loads(room.metadata)["host"] == alice


async def test_a_proven_join_link_opens_the_meeting_page_with_a_token_for_that_room(
    service: RunningApp, mattermost: MattermostStandIn, browser: httpx2.AsyncClient
) -> None:
    alice, bob = mattermost.add_user("alice"), mattermost.add_user("bob")
    channel = mattermost.add_channel("Planning", kind="P")
    mattermost.signed_in = alice
    page = await follow(browser, await start_meeting(service, channel, alice))
    assert page.status_code == 200, page.text
    config = page_config(page.text)
    assert config["engine"] == "livekit" and config["role"] == "host"
    assert config["startMuted"] is True  # a channel meeting: muted, as in Calls
    assert config["livekit"]["url"].startswith("ws://127.0.0.1:")
    claims = claims_of(config["livekit"]["token"])
    assert claims["video"]["room"] == f"mb-{channel}" and claims["video"]["roomJoin"] is True
    assert not claims["video"].get("roomAdmin") and not claims["video"].get("roomCreate")
    assert claims["sub"] == config["identity"] and claims["sub"].startswith(f"{alice}.")
    assert claims["attributes"] == {"meetbridge.role": "host", "meetbridge.user": alice}
    assert claims["exp"] - claims["nbf"] <= 15 * 60
    assert config["controls"]["url"] == f"{PUBLIC}/api/meetings/controls"
    assert config["controls"]["token"] and config["webapp3Url"] == ""

    mattermost.signed_in = bob
    bobs = page_config((await follow(browser, await start_meeting(service, channel, bob))).text)
    assert bobs["role"] == "participant"  # the meeting is alice's: bob is not host
    assert claims_of(bobs["livekit"]["token"])["attributes"]["meetbridge.role"] == "participant"


async def test_each_device_gets_its_own_identity(
    service: RunningApp, mattermost: MattermostStandIn
) -> None:
    # The same identity twice would disconnect the first device (NOTES.md).
    alice = mattermost.add_user("alice")
    channel = mattermost.add_channel("Planning", kind="P")
    join = service.components.join
    first = await join.open((await start_meeting(service, channel, alice)).rsplit("/", 1)[1])
    second = await join.open((await start_meeting(service, channel, alice)).rsplit("/", 1)[1])
    assert first.page_config["identity"] != second.page_config["identity"]


async def test_a_direct_message_meeting_starts_unmuted(
    service: RunningApp, mattermost: MattermostStandIn
) -> None:
    alice = mattermost.add_user("alice")
    direct = mattermost.add_channel(kind="D")
    link = await start_meeting(service, direct, alice)
    target = await service.components.join.open(link.rsplit("/", 1)[1])
    assert target.page_config["startMuted"] is False and target.page_config["conversation"]


async def test_a_full_meeting_is_refused_with_a_clear_message(
    service: RunningApp, mattermost: MattermostStandIn, livekit_server: LiveKitServer
) -> None:
    alice, bob = mattermost.add_user("alice"), mattermost.add_user("bob")
    channel = mattermost.add_channel("Planning", kind="P")
    await service.components.admin.change_setting("livekit_max_participants", 1, "test")
    await service.components.state.refresh()
    join = service.components.join
    alices = await join.open((await start_meeting(service, channel, alice)).rsplit("/", 1)[1])
    livekit = alices.page_config["livekit"]
    assert isinstance(livekit, dict)
    token = str(livekit["token"])
    async with SignallingParticipant(livekit_server.ws_url, token):
        bobs_link = await start_meeting(service, channel, bob)
        with pytest.raises(JoinRefusedError) as refused:
            await join.open(bobs_link.rsplit("/", 1)[1])
    assert refused.value.refusal is Refusal.ENGINE_REFUSED
    assert "full" in refused.value.detail and "1 participant" in refused.value.detail


async def test_without_livekit_configured_meet_says_what_is_missing(
    config: ServiceConfig, mattermost: MattermostStandIn
) -> None:
    alice = mattermost.add_user("alice")
    channel = mattermost.add_channel("Planning", kind="P")
    app = create_app(config, mattermost_transport=mattermost.transport(), auto_migrate=True)
    async with running(app, default_engine=None) as bare:
        with pytest.raises(JoinRefusedError) as refused:
            await bare.components.join.start(ChannelId(channel), UserId(alice))
    assert "no LiveKit server configured" in refused.value.detail
