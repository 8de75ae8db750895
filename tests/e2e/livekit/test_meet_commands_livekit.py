"""/meet leave, end and host for a LiveKit meeting, with the real Mattermost and a real
livekit-server: each is confirmed in a Mattermost dialog (the only proof of who asks), and acts on
the room through LiveKit's server API. Participants here are signalling-only LiveKit clients
(listed by ListParticipants, enough for what these commands change)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import orjson
import pytest

from meetbridge.domain.commands import Verb
from meetbridge.domain.ids import ChannelId
from meetbridge.engines.livekit import hs256
from meetbridge.engines.livekit.rooms import LiveKitNotFoundError, RoomService
from meetbridge.store import chat_repo, meetings_repo
from tests.e2e.live import LiveMeetbridge, eventually, start_live, stop_live
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


@pytest.fixture(autouse=True)
async def fresh_room(mattermost: MattermostWorld, room_service: RoomService) -> None:
    """The channel's room may remain from an earlier test on the shared server (with its host)."""
    with contextlib.suppress(LiveKitNotFoundError):
        await room_service.delete_room(f"mb-{mattermost.channels['public']}")


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


async def test_meet_leave_end_and_host_on_pexip_need_a_meeting_in_progress(
    live: LiveMeetbridge, mattermost: MattermostWorld
) -> None:
    """Pexip meetings have host controls too (through Infinity's client API); with nobody in
    the channel's meeting each command says why it cannot act."""
    alice = mattermost.users["alice"]
    await use_engine(live, mattermost, "pexip")
    expected = {
        "leave": "You are not in this channel's meeting.",
        "end": "No meeting is in progress in this channel.",
        "host @bob": "No meeting is in progress in this channel.",
    }
    for text, sentence in expected.items():
        assert (await live.meet(alice, "public", text))["text"] == sentence


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


def signed_webhook(livekit_server: LiveKitServer, body: bytes) -> dict[str, str]:
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    now = int(time.time())
    claims = {"iss": livekit_server.api_key.key, "nbf": now, "iat": now, "exp": now + 300,
              "sha256": digest}  # fmt: skip
    return {"Authorization": hs256.encode(claims, livekit_server.api_key.secret)}


async def card_of_meeting(
    live: LiveMeetbridge, mattermost: MattermostWorld, livekit_server: LiveKitServer, host: Account
) -> dict[str, Any]:
    """The meeting card, once LiveKit reported ``host`` in the meeting (this test sends what
    LiveKit would, signed with its key: a signalling-only participant makes no webhook)."""
    room = f"mb-{mattermost.channels['public']}"
    for event, extra in (
        ("room_started", {}),
        ("participant_joined", {"participant": {
            "sid": "PA_host", "identity": f"{host.id}.card", "name": host.username,
            "attributes": {"meetbridge.user": host.id, "meetbridge.role": "host"}}}),
    ):  # fmt: skip
        body = orjson.dumps(
            {"event": event, "id": f"EV_{event}_{time.time_ns()}",
             "createdAt": str(int(time.time())), "room": {"name": room}, **extra}
        )  # fmt: skip
        sent = await live.http.post(
            f"{live.url}/api/livekit/webhook",
            content=body,
            headers=signed_webhook(livekit_server, body),
        )
        assert sent.status_code == 200, sent.text
    await live.settle()

    async with live.components.core.database.read() as conn:
        meeting = await meetings_repo.current_for_channel(
            conn, ChannelId(mattermost.channels["public"])
        )
    assert meeting is not None and meeting.id is not None
    meeting_id = meeting.id

    async def card() -> dict[str, Any] | None:  # this meetbridge's card (not an earlier test's)
        async with live.components.core.database.read() as conn:
            post_id = await chat_repo.card_post(conn, meeting_id)
        if post_id is None:
            return None
        async with mattermost.client(host) as api:
            post: dict[str, Any] = (await api.get(f"/posts/{post_id}")).json()
        return post

    found: dict[str, Any] = await eventually(card)
    return found


def button(card: dict[str, Any], name: str) -> str:
    actions = card["props"]["attachments"][0]["actions"]
    return str(next(a["id"] for a in actions if a["name"] == name))


async def click_confirmed(
    live: LiveMeetbridge, user: Account, card: dict[str, Any], name: str
) -> httpx2.Response:
    async with live.dialogs_of(user) as dialogs:
        clicked = await live.click(user, card["id"], button(card, name))
        assert clicked.status_code == 200, clicked.text
        opened = await dialogs.next()
    return await live.submit_dialog(user, opened, "public")


async def test_the_cards_leave_button_takes_the_clickers_devices_out_after_they_confirm(
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
        card = await card_of_meeting(live, mattermost, livekit_server, alice)
        assert card["props"]["meeting_engine"] == "LiveKit"
        submitted = await click_confirmed(live, bob, card, "Leave")
        assert submitted.status_code == 200 and not submitted.json(), submitted.text
        assert await users_in(room_service, room) == [alice.id]


async def test_the_cards_end_button_ends_the_meeting_for_its_host_only(
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
        card = await card_of_meeting(live, mattermost, livekit_server, alice)
        async with live.dialogs_of(bob) as dialogs:
            clicked = await live.click(bob, card["id"], button(card, "End"))
            assert clicked.status_code == 200, clicked.text
            with pytest.raises(TimeoutError):
                await dialogs.next(timeout=3.0)  # refused before any dialog
        assert await room_service.list_rooms([room])

        submitted = await click_confirmed(live, alice, card, "End")
        assert submitted.status_code == 200 and not submitted.json(), submitted.text
        assert await room_service.list_rooms([room]) == []


async def test_meet_max_sets_this_channels_participant_limit_for_channel_and_system_admins(
    live: LiveMeetbridge, mattermost: MattermostWorld, livekit_server: LiveKitServer
) -> None:
    alice, bob = mattermost.users["alice"], mattermost.users["bob"]
    await use_engine(live, mattermost, "livekit")
    refused = await live.meet(bob, "public", "max 1")
    assert refused["text"] == (
        "Only channel admins and system admins can set this channel's participant limit."
    )
    wrong = await live.meet(mattermost.admin, "public", "max many")
    assert wrong["text"] == "Use `/meet max N` (1 to 1000) or `/meet max default`."

    confirmed = await live.meet_confirmed(mattermost.admin, "public", "max 1")
    assert confirmed.status_code == 200 and not confirmed.json(), confirmed.text
    async with SignallingParticipant(livekit_server.ws_url, await token_for(live, alice, "start")):
        link = (await live.meet(bob, "public", "join"))["goto_location"]
        full = await live.open_link_as(link, bob)
        assert full.status_code != 200 or "meetbridge-config" not in full.text
        assert "This meeting is full (1 participant at most)" in full.text

        back = await live.meet_confirmed(mattermost.admin, "public", "max default")
        assert back.status_code == 200 and not back.json(), back.text
        assert await token_for(live, bob)  # the install's limit (100) again


async def test_meet_stats_answers_from_the_last_report_of_the_callers_meeting_page(
    live: LiveMeetbridge, mattermost: MattermostWorld, livekit_server: LiveKitServer
) -> None:
    alice = mattermost.users["alice"]
    await use_engine(live, mattermost, "livekit")
    before = await live.meet(alice, "public", "stats")
    assert before["text"].startswith("No call statistics from you yet.")
    link = (await live.meet(alice, "public", "start"))["goto_location"]
    page = await live.open_link_as(link, alice)
    start = page.text.index('id="meetbridge-config">') + len('id="meetbridge-config">')
    config = json.loads(page.text[start : page.text.index("</script>", start)])
    controls, token = config["controls"], config["livekit"]["token"]
    bearer = {"Authorization": f"Bearer {controls['token']}"}
    async with SignallingParticipant(livekit_server.ws_url, token):
        bad = await live.http.post(
            f"{controls['url']}/stats", json={"sendKbps": -1}, headers=bearer
        )
        assert bad.status_code == 400, bad.text
        report = {"sendKbps": 512, "receiveKbps": 2048, "packetLossPercent": 1.25, "rttMs": 38}
        sent = await live.http.post(f"{controls['url']}/stats", json=report, headers=bearer)
        assert sent.status_code == 200, sent.text
    after = (await live.meet(alice, "public", "stats"))["text"]
    assert "sending 512 kbit/s, receiving 2,048 kbit/s, packet loss 1.2 %" in after
    assert "round-trip time 38 ms" in after
    # The page's last report, sent as it leaves, may arrive after LiveKit saw it go.
    final = {"sendKbps": 300, "receiveKbps": 900, "packetLossPercent": 0, "rttMs": 41}
    late = await live.http.post(f"{controls['url']}/stats", json=final, headers=bearer)
    assert late.status_code == 200, late.text
    assert "sending 300 kbit/s" in (await live.meet(alice, "public", "stats"))["text"]
    forged = await live.http.post(
        f"{controls['url']}/stats", json=final, headers={"Authorization": "Bearer forged"}
    )
    assert forged.status_code == 401
    bob = await live.meet(mattermost.users["bob"], "public", "stats")
    assert bob["text"].startswith("No call statistics from you yet.")  # alice's are hers
