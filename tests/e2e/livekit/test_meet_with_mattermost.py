"""/meet in a channel on the LiveKit engine, with the real Mattermost and a real livekit-server
configured from the deployment's environment (MEETBRIDGE_LIVEKIT_*): the reply carries a
personal join link, and the page it opens for its user is the LiveKit meeting page."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from meetbridge.domain.ids import ChannelId
from meetbridge.engines.livekit import hs256
from meetbridge.store import chat_repo, meetings_repo
from tests.e2e.live import LiveMeetbridge, eventually, start_live, stop_live
from tests.e2e.mattermost.bootstrap import MattermostWorld
from tests.support.livekit import (
    LiveKitServer,
    ReceivedWebhook,
    SignallingParticipant,
    WebhookReceiver,
)

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


def page_config(html: str) -> dict[str, object]:
    start = html.index('id="meetbridge-config">') + len('id="meetbridge-config">')
    config: dict[str, object] = json.loads(html[start : html.index("</script>", start)])
    return config


async def test_meet_start_in_a_livekit_channel_leads_its_user_to_the_livekit_page(
    live: LiveMeetbridge, mattermost: MattermostWorld, livekit_server: LiveKitServer
) -> None:
    alice, erin = mattermost.users["alice"], mattermost.users["erin"]
    chosen = await live.meet_confirmed(mattermost.admin, "private", "engine livekit")
    assert chosen.status_code == 200 and not chosen.json(), chosen.text  # {}: applied
    private = ChannelId(mattermost.channels["private"])
    assert await live.components.engines.engine_for(private) == "livekit"

    answer = await live.meet(alice, "private", "start Roadmap")
    link = answer["goto_location"]
    assert link.startswith(f"{live.url}/join/")

    forged = await live.open_link_as(link, erin)  # someone else's browser: nothing revealed
    assert forged.status_code == 403 and "meetbridge-config" not in forged.text

    page = await live.open_link_as(link, alice)
    assert page.status_code == 200, page.text
    config = page_config(page.text)
    assert config["engine"] == "livekit" and config["role"] == "host"
    livekit = config["livekit"]
    assert isinstance(livekit, dict) and livekit["url"] == livekit_server.ws_url
    assert livekit["token"] and livekit["token"] not in str(answer)  # never in Mattermost
    assert str(config["identity"]).startswith(f"{alice.id}.")
    assert config["startMuted"] is True and config["webapp3Url"] == ""


async def test_a_chat_line_typed_in_the_meeting_appears_in_the_cards_thread(
    live: LiveMeetbridge,
    mattermost: MattermostWorld,
    livekit_server: LiveKitServer,
    livekit_webhooks: WebhookReceiver,
) -> None:
    alice = mattermost.users["alice"]
    chosen = await live.meet_confirmed(mattermost.admin, "public", "engine livekit")
    assert chosen.status_code == 200 and not chosen.json(), chosen.text
    link = (await live.meet(alice, "public", "start Roadmap"))["goto_location"]
    config = page_config((await live.open_link_as(link, alice)).text)
    room = f"mb-{mattermost.channels['public']}"

    def room_started(webhook: ReceivedWebhook) -> bool:
        data = orjson.loads(webhook.body)
        return bool(data.get("event") == "room_started" and data["room"]["name"] == room)

    [started] = await asyncio.to_thread(livekit_webhooks.wait_for, room_started)
    stored = await live.http.post(
        f"{live.url}/api/livekit/webhook",
        content=started.body,
        headers={"Authorization": started.headers["authorization"]},
    )
    assert stored.status_code == 200
    # A participant with media joins (a browser would; this test has none, so it sends the
    # participant_joined LiveKit would send, signed with the server's key).
    joined = orjson.dumps(
        {
            "event": "participant_joined",
            "id": "EV_alice_joined",
            "createdAt": str(int(time.time())),
            "room": {"name": room},
            "participant": {
                "sid": "PA_alice",
                "identity": config["identity"],
                "name": "alice",
                "attributes": {"meetbridge.user": alice.id, "meetbridge.role": "host"},
            },
        }
    )
    digest = base64.b64encode(hashlib.sha256(joined).digest()).decode()
    now = int(time.time())
    token = hs256.encode(
        {"iss": livekit_server.api_key.key, "nbf": now, "iat": now, "exp": now + 300,
         "sha256": digest},
        livekit_server.api_key.secret,
    )  # fmt: skip
    sent = await live.http.post(
        f"{live.url}/api/livekit/webhook", content=joined, headers={"Authorization": token}
    )
    assert sent.status_code == 200
    await live.settle()
    async with live.components.core.database.read() as conn:
        meeting = await meetings_repo.current_for_channel(
            conn, ChannelId(mattermost.channels["public"])
        )
        assert meeting is not None and meeting.id is not None
    meeting_id = meeting.id

    async def card_post() -> str | None:
        async with live.components.core.database.read() as conn:
            return await chat_repo.card_post(conn, meeting_id)

    card = await eventually(card_post)  # the background outbox worker posts it

    controls = config["controls"]
    livekit = config["livekit"]
    assert isinstance(controls, dict) and isinstance(livekit, dict)
    async with SignallingParticipant(livekit_server.ws_url, livekit["token"]):
        said = await live.http.post(
            f"{controls['url']}/chat",
            json={"text": "hello @channel"},
            headers={"Authorization": f"Bearer {controls['token']}"},
        )
        assert said.status_code == 200, said.text
    await live.settle()

    async def reply() -> str | None:
        async with mattermost.client(alice) as api:
            thread = (await api.get(f"/posts/{card}/thread")).json()
        lines = [p["message"] for p in thread["posts"].values() if p.get("root_id") == card]
        return next((line for line in lines if "in the meeting" in line), None)

    line = await eventually(reply)
    assert line == "**alice** (in the meeting): hello \\@\u200bchannel"  # no @channel via the bot

    # And back: Bob answers in the thread; the meeting gets the line under his name (what a
    # device joining now is sent; live devices get the same data message). The bot's own
    # reply above is not sent back.
    bob = mattermost.users["bob"]
    async with SignallingParticipant(livekit_server.ws_url, livekit["token"]):
        async with mattermost.client(bob) as api:
            posted = await api.post(
                "/posts",
                json={
                    "channel_id": mattermost.channels["public"],
                    "root_id": card,
                    "message": "from the thread",
                },
            )
            assert posted.status_code == 201, posted.text

        async def from_thread() -> list[dict[str, object]]:
            lines = await live.components.controls.recent_chat(room)
            return [line for line in lines if line["source"] == "mattermost"]

        async def arrived() -> list[dict[str, object]]:
            return await from_thread()

        [line_in_meeting] = await eventually(arrived)
    assert line_in_meeting["name"] == "bob" and line_in_meeting["text"] == "from the thread"
    assert line_in_meeting["id"] == f"mm-{posted.json()['id']}"
