"""A Pexip meeting's chat and its card with the real Mattermost server: the simulated
Conferencing Node answers the client API (roles enforced from the PINs, as Infinity does) and
each member joins as their meeting page does (meetbridge's join, ``request_token`` with the PIN
it gave, the node's event sink reporting the participant)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest

from meetbridge.domain.ids import ChannelId
from meetbridge.domain.markdown import escape_markdown
from meetbridge.store import chat_repo, meetings_repo
from tests.e2e.live import LiveMeetbridge, eventually, start_live, stop_live
from tests.e2e.mattermost.bootstrap import Account, MattermostWorld
from tests.support.conferencing_node import API_PREFIX, ConferencingNode, policy_over_http

pytestmark = pytest.mark.mattermost

CHANNEL = "public"


@pytest.fixture
async def node() -> AsyncIterator[ConferencingNode]:
    conferencing_node = ConferencingNode()
    await conferencing_node.start()
    try:
        yield conferencing_node
    finally:
        await conferencing_node.stop()
        conferencing_node.close()


@pytest.fixture
async def live(
    mattermost: MattermostWorld, tmp_path: Path, node: ConferencingNode
) -> AsyncIterator[LiveMeetbridge]:
    running, server, task = await start_live(
        mattermost, tmp_path, pexip_transport=httpx2.AsyncHTTPTransport(verify=node.ssl_context())
    )
    await running.setting("pexip_node", node.address)
    await running.setting("embedded_experience", True)  # meetbridge's page, not Webapp3
    # The node asks meetbridge's policy server for the conference and each participant.
    node.policy = policy_over_http(f"{running.url}/api/pexip", running.auth)
    yield running
    await stop_live(running, server, task)


@dataclass
class InMeeting:
    """A member's page in the conference: its participant and token on the node."""

    user: Account
    uuid: str
    token: str
    alias: str
    name: str


def page_config(html: str) -> dict[str, Any]:
    start = html.index('id="meetbridge-config">') + len('id="meetbridge-config">')
    config: dict[str, Any] = json.loads(html[start : html.index("</script>", start)])
    return config


async def join(
    live: LiveMeetbridge, node: ConferencingNode, user: Account, text: str = ""
) -> InMeeting:
    """/meet, the page meetbridge serves, the page's request_token with the PIN it was given;
    then the node's event sink reports the participant with the call tag the page sent."""
    link = (await live.meet(user, CHANNEL, text))["goto_location"]
    page = await live.open_link(link)
    assert page.status_code == 200, page.headers.get("location")
    config = page_config(page.text)
    alias, name = str(config["alias"]), str(config["displayName"])
    policy = await live.http.get(
        f"{live.url}/api/pexip/policy/v1/service/configuration",
        params=live.node.service_configuration(alias, remote_display_name=name),
        headers=live.auth,
    )
    assert policy.status_code == 200, policy.text
    service_tag = policy.json()["result"]["service_tag"]
    async with httpx2.AsyncClient(verify=node.ssl_context()) as http:
        answer = await http.post(
            f"{node.url}{API_PREFIX}{alias}/request_token",
            json={"display_name": name, "call_tag": config["callTag"]},
            headers={"pin": str(config["pin"])},
        )
        assert answer.status_code == 200, answer.text
        uuid, token = answer.json()["result"]["participant_uuid"], answer.json()["result"]["token"]
        called = await http.post(
            f"{node.url}{API_PREFIX}{alias}/participants/{uuid}/calls",
            json={"call_type": "WEBRTC", "sdp": ""},
            headers={"token": token},
        )
        assert called.status_code == 200, called.text
    events = []
    if alias not in live.started:
        live.started.add(alias)
        events.append(live.node.conference_started(alias, service_tag))
    events.append(
        live.node.participant_connected(
            alias,
            service_tag,
            uuid=uuid,
            display_name=node.participants[uuid].display_name,
            role=node.participants[uuid].role,
            call_tag=node.participants[uuid].call_tag,
        )
    )
    await live.deliver(*events)
    await live.components.pexip_controls.settle()
    return InMeeting(user, uuid, token, alias, name)


async def card_of_meeting(live: LiveMeetbridge, viewer: Account) -> dict[str, Any]:
    """The card of the channel's meeting, as Mattermost holds it (once the outbox posted it)."""
    async with live.components.core.database.read() as conn:
        meeting = await meetings_repo.current_for_channel(
            conn, ChannelId(live.world.channels[CHANNEL])
        )
    assert meeting is not None and meeting.id is not None
    meeting_id = meeting.id

    async def card_post() -> str | None:
        async with live.components.core.database.read() as conn:
            return await chat_repo.card_post(conn, meeting_id)

    post_id = await eventually(card_post)
    return await post_of(live, viewer, post_id)


async def post_of(live: LiveMeetbridge, viewer: Account, post_id: str) -> dict[str, Any]:
    async with live.world.client(viewer) as api:
        post: dict[str, Any] = (await api.get(f"/posts/{post_id}")).json()
    return post


def buttons(card: dict[str, Any]) -> dict[str, str]:
    return {a["name"]: a["id"] for a in card["props"]["attachments"][0].get("actions", [])}


async def click_confirmed(
    live: LiveMeetbridge, user: Account, card: dict[str, Any], name: str
) -> httpx2.Response:
    async with live.dialogs_of(user) as dialogs:
        clicked = await live.click(user, card["id"], buttons(card)[name])
        assert clicked.status_code == 200, clicked.text
        opened = await dialogs.next()
    return await live.submit_dialog(user, opened, CHANNEL)


async def test_chat_in_the_conference_reaches_the_cards_thread_and_thread_replies_the_conference(
    live: LiveMeetbridge, mattermost: MattermostWorld, node: ConferencingNode
) -> None:
    alice, bob, carol = (mattermost.users[name] for name in ("alice", "bob", "carol"))
    await join(live, node, alice, "start")
    bobs = await join(live, node, bob)
    card = await card_of_meeting(live, alice)
    channel = ChannelId(mattermost.channels[CHANNEL])
    chat = live.components.pexip_controls.chat
    assert chat is not None

    async def listening() -> bool:  # meetbridge's chair reads the conference's event stream
        return chat.watching(channel) and ("events", "chair", 200) in node.actions

    await eventually(listening)
    await say(node, bobs, "@channel shipped it")  # as Webapp3 or meetbridge's page send it

    async def thread() -> list[dict[str, Any]]:
        async with mattermost.client(carol) as api:
            answer = (await api.get(f"/posts/{card['id']}/thread")).json()
        return [p for p in answer["posts"].values() if p.get("root_id") == card["id"]]

    async def in_thread(text: str) -> list[dict[str, Any]]:
        return [p for p in await thread() if text in p["message"]]

    [line] = await eventually(lambda: in_thread("shipped it"))
    # Attributed to its sender, posted by the bot, and the @channel notifies nobody.
    assert line["message"] == (
        f"**{escape_markdown(bobs.name)}** (in the meeting): \\@\u200bchannel shipped it"
    )
    assert line["user_id"] == mattermost.bot.id

    # Carol answers in the thread: the conference gets it from meetbridge's chair, under her name.
    async with mattermost.client(carol) as api:
        posted = await api.post(
            "/posts",
            json={
                "channel_id": mattermost.channels[CHANNEL],
                "root_id": card["id"],
                "message": "see you at ten",
            },
        )
        assert posted.status_code == 201, posted.text

    async def sent_to_the_conference() -> list[Any]:
        return [
            r.body
            for r in node.requests_to("message")
            if r.endpoint == "message" and r.headers.get("token") != bobs.token
        ]

    [sent] = await eventually(sent_to_the_conference)
    assert sent == {"type": "text/plain", "payload": "carol: see you at ten"}
    assert ("message", "chair", 200) in node.actions
    # The node echoes it on every stream, meetbridge's too; it must not come back to the thread.
    # Bob's next line is mirrored after that echo (one stream, in order): once it is in the
    # thread, the echo has been seen.
    await say(node, bobs, "after the echo")
    await eventually(lambda: in_thread("after the echo"))
    await live.settle()
    assert [p["id"] for p in await in_thread("see you at ten")] == [posted.json()["id"]]


async def say(node: ConferencingNode, member: InMeeting, text: str) -> None:
    """A conference message from the member's client (client API ``message``)."""
    async with httpx2.AsyncClient(verify=node.ssl_context()) as http:
        said = await http.post(
            f"{node.url}{API_PREFIX}{member.alias}/message",
            json={"type": "text/plain", "payload": text},
            headers={"token": member.token},
        )
        assert said.status_code == 200, said.text


async def test_the_cards_end_button_ends_a_pexip_meeting_for_its_host_only(
    live: LiveMeetbridge, mattermost: MattermostWorld, node: ConferencingNode
) -> None:
    alice, bob = mattermost.users["alice"], mattermost.users["bob"]
    alices = await join(live, node, alice, "start")
    bobs = await join(live, node, bob)
    card = await card_of_meeting(live, alice)
    assert list(buttons(card)) == ["Join", "Leave", "End"]
    assert "In Pexip Infinity's own app" in card["props"]["attachments"][0]["footer"]

    # Bob is a guest: refused before any dialog, and nothing reaches the node.
    async with live.dialogs_of(bob) as dialogs:
        clicked = await live.click(bob, card["id"], buttons(card)["End"])
        assert clicked.status_code == 200, clicked.text
        with pytest.raises(TimeoutError):
            await dialogs.next(timeout=3.0)
    assert not any(action[0] == "disconnect" for action in node.actions)
    assert set(node.participants) >= {alices.uuid, bobs.uuid}

    submitted = await click_confirmed(live, alice, card, "End")
    assert submitted.status_code == 200 and not submitted.json(), submitted.text
    assert ("disconnect", "chair", 200) in node.actions  # the conference's disconnect
    assert node.ended and node.participants == {}
    # The card follows what the node reports: in progress until the legs are gone.
    assert (await post_of(live, alice, card["id"]))["props"]["meeting_status"] == "STARTED"
    tag = f"mattermost:{mattermost.channels[CHANNEL]}"
    await live.deliver(
        live.node.participant_disconnected(alices.alias, tag, alices.uuid),
        live.node.participant_disconnected(alices.alias, tag, bobs.uuid),
        live.node.conference_ended(alices.alias, tag),
    )

    async def ended() -> bool:
        post = await post_of(live, alice, card["id"])
        return bool(post["props"]["meeting_status"] == "ENDED")

    await eventually(ended)
    assert "End" not in buttons(await post_of(live, alice, card["id"]))


async def test_the_cards_leave_button_disconnects_the_members_page_after_they_confirm(
    live: LiveMeetbridge, mattermost: MattermostWorld, node: ConferencingNode
) -> None:
    alice, bob = mattermost.users["alice"], mattermost.users["bob"]
    alices = await join(live, node, alice, "start")
    bobs = await join(live, node, bob)
    card = await card_of_meeting(live, bob)
    told: list[str] = []

    async def bobs_page_listens() -> None:
        """Bob's page reads its own event stream, where Infinity tells it it was disconnected."""
        async with (
            httpx2.AsyncClient(verify=node.ssl_context(), timeout=30.0) as http,
            http.stream(
                "GET",
                f"{node.url}{API_PREFIX}{bobs.alias}/events",
                headers={"token": bobs.token},
            ) as stream,
        ):
            async for line in stream.aiter_lines():
                if not line.startswith("event: "):
                    continue
                told.append(line.removeprefix("event: "))  # as it arrives, not at the end

    page = asyncio.create_task(bobs_page_listens())
    try:

        async def listening() -> bool:
            return "participant_sync_end" in told

        await eventually(listening)
        submitted = await click_confirmed(live, bob, card, "Leave")
        assert submitted.status_code == 200 and not submitted.json(), submitted.text
        await asyncio.wait_for(page, 10)  # the stream ends with Bob's "disconnect"
    finally:
        page.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await page
    assert told[-1] == "disconnect"
    assert (f"participants/{bobs.uuid}/disconnect", "chair", 200) in node.actions
    assert bobs.uuid not in node.participants and alices.uuid in node.participants
    assert not node.ended
