"""Hosts and guests in Pexip meetings, against the simulated Conferencing Node's client API
(roles enforced as Infinity does, with meetbridge as its policy server) and meetbridge's event
sink fed as a node feeds it (tests/integration/pexip_meeting.py).

Every member's page carries the guest PIN; who is host is meetbridge's answer to Infinity's
participant-properties request, from the member's call tag (issue 20, item 1).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx2
import pytest
from sqlalchemy import select

from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.services.notifications import MEETING_REPLY
from meetbridge.store.tables import outbox
from tests.conftest import RunningApp
from tests.hostile.test_thread_lines import assert_one_inert_line
from tests.integration import pexip_meeting as harness
from tests.integration.conftest import alias, post_events, tag
from tests.integration.pexip_meeting import Member
from tests.integration.pexip_meeting import PexipMeeting as Meeting
from tests.support.conferencing_node import API_PREFIX, ConferencingNode
from tests.support.mattermost_standin import MattermostStandIn

# The fixtures live with the harness, so that other modules can use them too.
conferencing_node = harness.conferencing_node
service = harness.service
meeting = harness.meeting
meeting_in = harness.meeting_in


async def test_the_first_member_in_is_host_and_the_next_one_a_guest(
    meeting: Meeting, mattermost: MattermostStandIn
) -> None:
    alice = await meeting.join(mattermost.add_user("alice"))
    bob = await meeting.join(mattermost.add_user("bob"))
    assert (alice.config["role"], bob.config["role"]) == ("host", "participant")
    pins = await meeting.service.components.state.pins_for(ChannelId(meeting.channel))
    assert alice.config["pin"] == bob.config["pin"] == pins.guest_pin
    # Infinity made the roles as meetbridge answered for each call tag.
    assert meeting.node.participants[alice.uuid].role == "chair"
    assert meeting.node.participants[bob.uuid].role == "guest"


async def test_the_host_joining_from_a_second_device_is_host_there_too(
    meeting: Meeting, mattermost: MattermostStandIn
) -> None:
    alice = mattermost.add_user("alice")
    await meeting.join(alice)
    await meeting.join(mattermost.add_user("bob"))
    second = await meeting.join(alice)
    assert second.config["role"] == "host"
    assert meeting.node.participants[second.uuid].role == "chair"


async def test_system_and_channel_admins_join_as_hosts(
    meeting: Meeting, mattermost: MattermostStandIn
) -> None:
    await meeting.join(mattermost.add_user("alice"))
    admin = await meeting.join(mattermost.add_user("root", roles="system_user system_admin"))
    channel_admin_id = mattermost.add_user("carol")
    mattermost.channels[meeting.channel]["admins"] = {channel_admin_id}
    channel_admin = await meeting.join(channel_admin_id)
    assert admin.config["role"] == channel_admin.config["role"] == "host"
    assert meeting.node.participants[channel_admin.uuid].role == "chair"


async def test_in_a_direct_message_both_people_are_hosts(
    service: RunningApp, conferencing_node: ConferencingNode, mattermost: MattermostStandIn
) -> None:
    direct = await meeting_in(
        service, conferencing_node, mattermost.add_channel(kind="D"), "10.20.0.12"
    )
    first = await direct.join(mattermost.add_user("dana"))
    second = await direct.join(mattermost.add_user("eve"))
    assert first.config["role"] == second.config["role"] == "host"
    assert {p.role for p in conferencing_node.participants.values()} == {"chair"}


async def test_when_the_host_leaves_the_member_present_longest_becomes_host(
    meeting: Meeting, mattermost: MattermostStandIn
) -> None:
    alice = await meeting.join(mattermost.add_user("alice"))
    bob = await meeting.join(mattermost.add_user("bob"))
    carol = await meeting.join(mattermost.add_user("carol"))
    await meeting.leave(alice)
    # meetbridge took a chair token with the host PIN and promoted Bob, not Carol.
    pins = await meeting.service.components.state.pins_for(ChannelId(meeting.channel))
    mine = [
        r
        for r in meeting.node.requests_to("request_token")
        if r.body["display_name"] == "meetbridge"
    ]
    assert mine and all(r.headers["pin"] == pins.host_pin for r in mine)
    promotions = meeting.node.actions_to("/role")
    assert promotions == [(f"participants/{bob.uuid}/role", "chair", 200)]
    assert meeting.node.requests_to("/role")[-1].body == {"role": "chair"}
    assert meeting.node.participants[bob.uuid].role == "chair"
    assert meeting.node.participants[carol.uuid].role == "guest"
    # The node reports the change; a later join finds a host present and is a guest.
    await meeting.report(
        meeting.sink.participant_updated(
            alias(meeting.channel), tag(meeting.channel), bob.uuid, role="chair"
        )
    )
    dave = await meeting.join(mattermost.add_user("dave"))
    assert dave.config["role"] == "participant"


async def test_with_nobody_left_but_the_host_leaving_nobody_is_promoted(
    meeting: Meeting, mattermost: MattermostStandIn
) -> None:
    alice = await meeting.join(mattermost.add_user("alice"))
    await meeting.leave(alice)
    assert meeting.node.actions_to("/role") == []


async def test_every_host_control_issues_its_client_api_request(
    meeting: Meeting, mattermost: MattermostStandIn
) -> None:
    alice = await meeting.join(mattermost.add_user("alice"))
    bob = await meeting.join(mattermost.add_user("bob"))
    carol = await meeting.join(mattermost.add_user("carol"))
    expected = [
        ("mute", {"identity": bob.uuid}, f"participants/{bob.uuid}/mute"),
        ("mute-all", {}, "muteguests"),
        ("ask-unmute", {"identity": bob.uuid}, f"participants/{bob.uuid}/message"),
        ("lower-hand", {"identity": bob.uuid}, f"participants/{bob.uuid}/clearbuzz"),
        ("lower-all-hands", {}, "clearallbuzz"),
        ("lock", {}, "lock"),
        ("unlock", {}, "unlock"),
        ("remove", {"identity": carol.uuid}, f"participants/{carol.uuid}/disconnect"),
    ]
    for action, body, endpoint in expected:
        answer = await meeting.act(alice, action, **body)
        assert answer.status_code == 200, (action, answer.text)
        assert (endpoint, "chair", 200) in meeting.node.actions, action
    assert meeting.node.participants[bob.uuid].muted
    assert meeting.node.locked is False and carol.uuid not in meeting.node.participants
    message = meeting.node.requests_to(f"participants/{bob.uuid}/message")[-1].body
    assert message == {"type": "text/plain", "payload": "The host asks you to unmute."}

    made = await meeting.act(alice, "make-host", identity=bob.uuid)
    assert made.status_code == 200, made.text
    assert meeting.node.participants[bob.uuid].role == "chair"
    assert meeting.node.participants[alice.uuid].role == "guest"  # handed over, not shared

    await meeting.report(
        meeting.sink.participant_updated(
            alias(meeting.channel), tag(meeting.channel), bob.uuid, role="chair"
        ),
        meeting.sink.participant_updated(
            alias(meeting.channel), tag(meeting.channel), alice.uuid, role="guest"
        ),
    )
    ended = await meeting.act(bob, "end")
    assert ended.status_code == 200, ended.text
    assert ("disconnect", "chair", 200) in meeting.node.actions
    assert meeting.node.ended


async def test_a_guests_host_actions_are_refused_by_meetbridge_and_by_infinity(
    meeting: Meeting, mattermost: MattermostStandIn
) -> None:
    alice = await meeting.join(mattermost.add_user("alice"))
    bob = await meeting.join(mattermost.add_user("bob"))
    before = len(meeting.node.actions)
    for action, body in (
        ("mute", {"identity": alice.uuid}),
        ("mute-all", {}),
        ("ask-unmute", {"identity": alice.uuid}),
        ("lower-hand", {"identity": alice.uuid}),
        ("lower-all-hands", {}),
        ("remove", {"identity": alice.uuid}),
        ("make-host", {"identity": bob.uuid}),
        ("lock", {}),
        ("end", {}),
    ):
        refused = await meeting.act(bob, action, **body)
        assert refused.status_code == 403, (action, refused.text)
    assert meeting.node.actions[before:] == []  # nothing reached the node
    # Bob's own token on the node directly: Infinity refuses a guest's host action too.
    async with httpx2.AsyncClient(verify=meeting.node.ssl_context()) as http:
        base = f"{meeting.node.url}{API_PREFIX}{alias(meeting.channel)}"
        for endpoint in (
            f"participants/{alice.uuid}/mute",
            "lock",
            f"participants/{bob.uuid}/role",
        ):
            direct = await http.post(
                f"{base}/{endpoint}", json={"role": "chair"}, headers={"token": bob.token}
            )
            assert direct.status_code == 403, endpoint
    assert not meeting.node.locked
    assert meeting.node.participants[bob.uuid].role == "guest"


async def test_a_member_raises_and_lowers_their_own_hand(
    meeting: Meeting, mattermost: MattermostStandIn
) -> None:
    await meeting.join(mattermost.add_user("alice"))
    bob = await meeting.join(mattermost.add_user("bob"))
    assert (await meeting.act(bob, "raise-hand")).status_code == 200
    assert meeting.node.participants[bob.uuid].buzz_time > 0
    assert (await meeting.act(bob, "lower-hand")).status_code == 200
    assert meeting.node.participants[bob.uuid].buzz_time == 0
    assert [a[0] for a in meeting.node.actions_to("buzz")] == [
        f"participants/{bob.uuid}/buzz",
        f"participants/{bob.uuid}/clearbuzz",
    ]


async def test_controls_refuse_malformed_targets_and_strangers(
    meeting: Meeting, mattermost: MattermostStandIn
) -> None:
    alice = await meeting.join(mattermost.add_user("alice"))
    for body in ({}, {"identity": "../lock"}, {"identity": 7}):
        assert (await meeting.act(alice, "mute", **body)).status_code == 400
    absent = "00000000-0000-4000-8000-000000000000"
    assert (await meeting.act(alice, "mute", identity=absent)).status_code == 404
    assert (await meeting.act(alice, "chat", text="hi")).status_code == 404
    # A member of the channel who is not in the meeting (a token from a join never used).
    link = await meeting.service.components.join.issue(
        ChannelId(meeting.channel), UserId(mattermost.add_user("mallory"))
    )
    target = await meeting.service.components.join.open(link.rsplit("/", 1)[1])
    stranger = Member("mallory", dict(target.page_config))
    assert (await meeting.act(stranger, "raise-hand")).status_code == 403


async def test_members_joining_a_channels_meeting_are_muted_by_infinity(
    meeting: Meeting, mattermost: MattermostStandIn
) -> None:
    alice = await meeting.join(mattermost.add_user("alice"))
    bob = await meeting.join(mattermost.add_user("bob"))
    assert (f"participants/{alice.uuid}/mute", "chair", 200) in meeting.node.actions
    assert meeting.node.participants[alice.uuid].muted
    assert meeting.node.participants[bob.uuid].muted
    for member in (alice, bob):  # once each, however the reports were batched
        assert len(meeting.node.actions_to(f"participants/{member.uuid}/mute")) == 1


async def test_a_batch_of_joins_and_leaves_is_acted_on_once_per_channel(
    meeting: Meeting, mattermost: MattermostStandIn
) -> None:
    alice = await meeting.join(mattermost.add_user("alice"))
    bob = await meeting.join(mattermost.add_user("bob"))
    carol = await meeting.join(mattermost.add_user("carol"))
    conference, service_tag = alias(meeting.channel), tag(meeting.channel)
    # Alice and Carol leave in one delivery, applied as one batch: Bob (longest present) is
    # promoted once.
    await post_events(
        meeting.service,
        meeting.sink.participant_disconnected(conference, service_tag, alice.uuid),
        meeting.sink.participant_disconnected(conference, service_tag, carol.uuid),
    )
    await meeting.service.components.applier.drain()
    await meeting.service.components.pexip_controls.settle()
    assert meeting.node.actions_to("/role") == [(f"participants/{bob.uuid}/role", "chair", 200)]


async def test_a_member_already_muted_is_left_alone(
    meeting: Meeting, mattermost: MattermostStandIn
) -> None:
    alice = await meeting.join(mattermost.add_user("alice"), muted=True)
    assert meeting.node.actions_to(f"participants/{alice.uuid}/mute") == []


@pytest.mark.parametrize("kind", ["D", "G"])
async def test_members_joining_a_conversation_are_not_muted(
    service: RunningApp,
    conferencing_node: ConferencingNode,
    mattermost: MattermostStandIn,
    kind: str,
) -> None:
    conversation = await meeting_in(
        service, conferencing_node, mattermost.add_channel("Group", kind=kind), "10.20.0.13"
    )
    await conversation.join(mattermost.add_user("dana"))
    await conversation.join(mattermost.add_user("eve"))
    assert conferencing_node.actions_to("/mute") == []


async def test_meet_leave_host_and_end_act_through_the_client_api(
    meeting: Meeting, mattermost: MattermostStandIn
) -> None:
    """What /meet leave, /meet host @user and /meet end (and the card's Leave) do, once
    confirmed: the engine's HostControls, on the node as meetbridge's chair session."""
    engine = meeting.service.components.pexip
    channel = ChannelId(meeting.channel)
    alice_id, bob_id = mattermost.add_user("alice"), mattermost.add_user("bob")
    alice, bob = await meeting.join(alice_id), await meeting.join(bob_id)
    assert await engine.host_of(channel) == alice_id
    assert await engine.present_users(channel) == sorted([alice_id, bob_id])

    await engine.hand_host(channel, UserId(bob_id))
    assert meeting.node.participants[bob.uuid].role == "chair"
    assert meeting.node.participants[alice.uuid].role == "guest"

    assert await engine.remove_user(channel, UserId(alice_id)) == 1
    assert alice.uuid not in meeting.node.participants
    assert (f"participants/{alice.uuid}/disconnect", "chair", 200) in meeting.node.actions

    assert await engine.end(channel) is True
    assert meeting.node.ended
    assert any(r.endpoint == "release_token" for r in meeting.node.requests)


async def thread_lines(service: RunningApp) -> list[str]:
    async with service.components.core.database.read() as conn:
        rows = await conn.execute(select(outbox.c.payload).where(outbox.c.kind == MEETING_REPLY))
        return [str(row.payload["message"]) for row in rows]


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.05)


FORGED = "@channel shipped it\n**Alice Archer** (in the meeting): ![p](https://t.example/p.png)"


async def test_chat_in_the_meeting_reaches_the_thread_and_thread_replies_the_meeting(
    meeting: Meeting, mattermost: MattermostStandIn
) -> None:
    """Conference messages (Infinity's chat, as Webapp3 sends them) and the card's thread."""
    alice = await meeting.join(mattermost.add_user("alice"))
    bob = await meeting.join(mattermost.add_user("bob"))
    chat = meeting.service.components.pexip_controls.chat
    channel = ChannelId(meeting.channel)

    async def listening() -> bool:
        return any(a == ("events", "chair", 200) for a in meeting.node.actions) and chat.watching(
            channel
        )

    await until(listening)
    async with httpx2.AsyncClient(verify=meeting.node.ssl_context()) as http:
        base = f"{meeting.node.url}{API_PREFIX}{alias(meeting.channel)}"
        said = await http.post(
            f"{base}/message",
            json={"type": "text/plain", "payload": FORGED},
            headers={"token": bob.token},
        )
        assert said.status_code == 200

    async def in_thread() -> bool:
        return any("shipped it" in line for line in await thread_lines(meeting.service))

    await until(in_thread)
    [line] = [x for x in await thread_lines(meeting.service) if "shipped it" in x]
    assert line.startswith("**bob** (in the meeting):") and "@channel" not in line
    assert_one_inert_line(line)  # no link, image, mention or second line (issue 20, item 5)

    await chat.from_thread(channel, "Carol", "see you at ten", "mm-1", 0)
    [sent] = [r for r in meeting.node.requests_to("message") if r.endpoint == "message"][-1:]
    assert sent.body == {"type": "text/plain", "payload": "Carol: see you at ten"}
    assert ("message", "chair", 200) in meeting.node.actions
    await asyncio.sleep(0.5)  # the node echoes it to every stream, meetbridge's too
    assert not any("see you at ten" in line for line in await thread_lines(meeting.service))
    # A private message (a host's "ask to unmute") is not mirrored.
    assert (await meeting.act(alice, "ask-unmute", identity=bob.uuid)).status_code == 200
    await asyncio.sleep(0.5)
    assert not any("unmute" in line for line in await thread_lines(meeting.service))


async def test_a_pages_connection_summary_is_kept_for_meet_stats(
    meeting: Meeting, mattermost: MattermostStandIn
) -> None:
    alice = await meeting.join(mattermost.add_user("alice"))
    report = {"sendKbps": 800, "receiveKbps": 1200, "packetLossPercent": 0.5, "rttMs": 42}
    assert (await meeting.act(alice, "stats", **report)).status_code == 200
    assert (await meeting.act(alice, "stats", sendKbps=-1)).status_code == 400
    # One store for every engine's pages: what /meet stats reads, on any replica.
    stats = await meeting.service.components.controls.last_stats(UserId(alice.user))
    assert stats is not None and stats.rtt_ms == 42
