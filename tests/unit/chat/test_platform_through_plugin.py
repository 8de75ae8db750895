"""Ringing and meeting state through the companion plugin where it answers, the bot's posts
where it does not (or stops answering)."""

from __future__ import annotations

from typing import Any

import httpx2
import orjson

from meetbridge.chat.mattermost.actions import ActionSigner
from meetbridge.chat.mattermost.client import MattermostClient
from meetbridge.chat.mattermost.platform import PLUGIN_RING, MattermostPlatform
from meetbridge.chat.mattermost.plugin_events import PluginEvents
from meetbridge.crypto import Signer
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.domain.views import MeetingCard, RingCard, RingState
from tests.unit.test_plugin_events import SECRET, FixedClock

CHANNEL = ChannelId("c" * 26)
CALLEE = UserId("u" * 26)
BOT = "b" * 26


class FakeMattermost:
    """Mattermost's REST API (as the bot) and the plugin's events route, recording calls."""

    def __init__(self, plugin_status: int) -> None:
        self.plugin_status = plugin_status
        self.events: list[dict[str, Any]] = []
        self.posts: list[dict[str, Any]] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        path = request.url.path
        if path.startswith("/plugins/"):
            if self.plugin_status == 204:
                self.events.append(orjson.loads(request.read()))
            return httpx2.Response(self.plugin_status)
        if path == "/api/v4/users/me":
            return httpx2.Response(200, json={"id": BOT})
        if path == "/api/v4/channels/direct":
            return httpx2.Response(201, json={"id": "d" * 26})
        if path.endswith("/posts") and request.method == "GET":
            return httpx2.Response(200, json={"order": [], "posts": {}})
        if path == "/api/v4/posts":
            post = orjson.loads(request.read())
            self.posts.append(post)
            return httpx2.Response(201, json={**post, "id": f"p{len(self.posts)}".ljust(26, "0")})
        if path.endswith("/patch"):
            return httpx2.Response(200, json={"id": path.split("/")[-2]})
        return httpx2.Response(404, json={"message": path})


def platform(fake: FakeMattermost) -> MattermostPlatform:
    transport = httpx2.MockTransport(fake)
    api = httpx2.AsyncClient(base_url="http://mm.test", transport=transport)
    plain = httpx2.AsyncClient(base_url="http://mm.test", transport=transport)
    buttons = ActionSigner(Signer(b"b" * 32), "https://mb.example.com/api/mattermost/action")
    events = PluginEvents(plain, lambda: SECRET, FixedClock())
    return MattermostPlatform(MattermostClient(api), buttons, events, "https://mb.example.com")


def ring(state: RingState = RingState.RINGING) -> RingCard:
    return RingCard(3, CALLEE, CHANNEL, "a direct message", "alice", state, 1_700_000_030.0)


async def test_a_ring_goes_to_the_callees_plugin_panel_instead_of_a_bot_message() -> None:
    fake = FakeMattermost(plugin_status=204)
    delivered = await platform(fake).publish_ring(ring(), None)
    assert delivered.startswith(PLUGIN_RING)
    assert len(f"{PLUGIN_RING}{2**63}") <= 26  # fits the ringing table's post_id column
    assert fake.posts == []
    (event,) = fake.events
    assert event["event"] == "incoming_call" and event["user_id"] == CALLEE
    assert event["data"] == {
        "ring_id": 3,
        "channel_id": CHANNEL,
        "caller": "alice",
        "conversation": "a direct message",
        "state": "ringing",
    }
    again = await platform(fake).publish_ring(ring(RingState.MISSED), delivered)
    assert again == delivered and fake.events[-1]["data"]["state"] == "missed"


async def test_without_an_answering_plugin_the_bot_rings_and_takes_over_later_updates() -> None:
    absent = FakeMattermost(plugin_status=404)
    post_id = await platform(absent).publish_ring(ring(), None)
    assert not post_id.startswith(PLUGIN_RING)
    assert [p["props"]["ring_state"] for p in absent.posts] == ["ringing"]
    # Rung through the plugin, which then went away: the missed call is a bot message.
    gone = FakeMattermost(plugin_status=404)
    taken_over = await platform(gone).publish_ring(ring(RingState.MISSED), f"{PLUGIN_RING}3:1")
    assert not taken_over.startswith(PLUGIN_RING)
    assert [p["props"]["ring_state"] for p in gone.posts] == ["missed"]


async def test_a_card_tells_the_channels_plugin_clients_whether_a_meeting_is_on() -> None:
    fake = FakeMattermost(plugin_status=204)
    card = MeetingCard(7, CHANNEL, "LiveKit", "Plan", "alice", 1000.0, None, ("alice",), ())
    post_id = await platform(fake).publish_card(card, None)
    assert fake.posts[0]["props"]["meeting_link"] == f"https://mb.example.com/meet/{CHANNEL}"
    (event,) = fake.events
    assert event["event"] == "meeting_state" and event["channel_id"] == CHANNEL
    assert event["data"] == {
        "channel_id": CHANNEL,
        "post_id": post_id,
        "status": "STARTED",
        "topic": "Plan",
        "participants": 1,
    }
