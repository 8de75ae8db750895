"""Who is host in a Pexip meeting comes from meetbridge's signature, never from a secret that
leaks (issue 20, items 1 and 2), against the simulated Conferencing Node with meetbridge as its
policy server.

* Every page a member is given holds the guest PIN only: no PIN that makes a chair reaches a
  browser, so one that is kept, copied or leaked is worth nothing more than the guest PIN.
* Infinity asks meetbridge for each leg's properties after its PIN; meetbridge answers the role
  from the leg's signed call tag (host for the rightful host, guest for everyone else, whatever
  PIN they brought), and refuses a leg without a valid meetbridge tag, through the client API
  and through Webapp3 alike.
* The control API believes a chair only when meetbridge made it one.
"""

from __future__ import annotations

import json

from meetbridge.chat.mattermost.interactions import Invocation
from meetbridge.domain.call_tags import make_call_tag
from meetbridge.domain.ids import ChannelId, UserId
from tests.conftest import RunningApp
from tests.integration import pexip_meeting as harness
from tests.integration.conftest import PARTICIPANT_PROPERTIES, alias, policy, tag
from tests.integration.pexip_meeting import Member, PexipMeeting, meeting_in, webapp3_parts
from tests.integration.test_pexip_guest_links import page_config as guest_page_config
from tests.support.conferencing_node import ConferencingNode
from tests.support.infinity import InfinityNode
from tests.support.mattermost_standin import MattermostStandIn

conferencing_node, service, meeting = harness.conferencing_node, harness.service, harness.meeting


async def pins(meeting: PexipMeeting) -> tuple[str, str]:
    channel_pins = await meeting.service.components.state.pins_for(ChannelId(meeting.channel))
    return channel_pins.host_pin, channel_pins.guest_pin


async def test_no_page_or_webapp3_link_a_member_is_given_holds_a_pin_that_makes_a_chair(
    meeting: PexipMeeting,
    service: RunningApp,
    conferencing_node: ConferencingNode,
    mattermost: MattermostStandIn,
) -> None:
    host_pin, guest_pin = await pins(meeting)
    first = await meeting.page(mattermost.add_user("alice"))  # nobody hosts yet: host
    admin = await meeting.page(mattermost.add_user("root", roles="system_user system_admin"))
    direct = await meeting_in(service, conferencing_node, mattermost.add_channel(kind="D"))
    dm_host_pin, _ = await pins(direct)
    in_dm = await direct.page(mattermost.add_user("dana"))
    for config, chair_pin in ((first, host_pin), (admin, host_pin), (in_dm, dm_host_pin)):
        assert config["role"] == "host"
        assert config["pin"] != chair_pin and chair_pin not in json.dumps(config)
    assert first["pin"] == admin["pin"] == guest_pin


async def test_a_member_who_kept_a_host_page_joins_as_a_guest_while_someone_else_hosts(
    meeting: PexipMeeting, mattermost: MattermostStandIn
) -> None:
    alice_id, bob_id = mattermost.add_user("alice"), mattermost.add_user("bob")
    kept = await meeting.page(bob_id)  # Bob opens his link while nobody hosts, and waits
    assert kept["role"] == "host"
    alice = await meeting.join(alice_id)
    assert meeting.role(alice) == "chair"
    bob = await meeting.join(bob_id, kept)  # later, with what his page was given then
    assert meeting.role(bob) == "guest"
    # Even the host PIN itself (had it leaked) makes him no chair: his tag does not entitle him.
    host_pin, _ = await pins(meeting)
    leaked = await meeting.join(bob_id, kept, pin=host_pin)
    assert meeting.role(leaked) == "guest"
    for member in (bob, leaked):
        refused = await meeting.act(member, "remove", identity=alice.uuid)
        assert refused.status_code == 403, refused.text
    assert alice.uuid in meeting.node.participants and meeting.role(alice) == "chair"


async def test_the_control_api_believes_a_chair_only_when_meetbridge_made_it_one(
    meeting: PexipMeeting, mattermost: MattermostStandIn
) -> None:
    alice = await meeting.join(mattermost.add_user("alice"))
    bob = await meeting.join(mattermost.add_user("bob"))
    # Bob becomes chair behind meetbridge's back (a Webapp3 host's own menu, a PIN that leaked):
    # Infinity reports him as chair.
    meeting.node.participants[bob.uuid].role = "chair"
    await meeting.report(
        meeting.sink.participant_updated(
            alias(meeting.channel), tag(meeting.channel), bob.uuid, role="chair"
        )
    )
    for action, body in (("remove", {"identity": alice.uuid}), ("lock", {}), ("end", {})):
        refused = await meeting.act(bob, action, **body)
        assert refused.status_code == 403, (action, refused.text)
    assert (meeting.node.locked, meeting.node.ended) == (False, False)
    # Made host through meetbridge (Alice's make-host), he may.
    assert (await meeting.act(alice, "make-host", identity=bob.uuid)).status_code == 200
    await meeting.report(
        meeting.sink.participant_updated(
            alias(meeting.channel), tag(meeting.channel), alice.uuid, role="guest"
        )
    )
    assert (await meeting.act(bob, "lock")).status_code == 200
    assert meeting.node.locked
    assert (await meeting.act(alice, "unlock")).status_code == 403  # she handed it over


async def test_a_leg_without_a_meetbridge_tag_is_refused_through_the_client_api(
    meeting: PexipMeeting, mattermost: MattermostStandIn
) -> None:
    alice_id = mattermost.add_user("alice")
    await meeting.join(alice_id)
    host_pin, guest_pin = await pins(meeting)
    forged = f"mbu.{alice_id}.{'0' * 24}"
    elsewhere = make_call_tag(
        meeting.service.components.core.call_tags,
        ChannelId(mattermost.add_channel("Elsewhere")),
        UserId(alice_id),
    )
    before = set(meeting.node.participants)
    for pin, call_tag in ((guest_pin, ""), (guest_pin, forged), (guest_pin, elsewhere),
                          (host_pin, ""), (host_pin, "sales-team")):  # fmt: skip
        answer = await meeting.request_token(
            pin=pin, display_name="Alice Archer", call_tag=call_tag
        )
        assert answer.status_code == 403, (pin == host_pin, call_tag, answer.text)
    assert set(meeting.node.participants) == before


async def test_a_leg_without_a_meetbridge_tag_is_refused_through_webapp3(
    meeting: PexipMeeting, service: RunningApp, mattermost: MattermostStandIn
) -> None:
    # What Infinity asks when someone opens Webapp3 on the channel's alias with a PIN they kept:
    # a WebRTC leg, its PIN already checked, no call tag (Webapp3 links cannot carry one).
    await meeting.join(mattermost.add_user("alice"))
    node = InfinityNode("10.20.0.21")
    for role in ("guest", "chair"):
        query = node.participant_properties(
            alias(meeting.channel), tag(meeting.channel), remote_display_name="Alice Archer"
        )
        query["preauthenticated_role"] = role
        answer = (await policy(service, query, PARTICIPANT_PROPERTIES)).json()
        assert answer["action"] == "reject", answer
        assert "meetbridge" in answer["result"]["reject_reason"]
    # The same through the simulated node's Webapp3-style join: refused, nobody added.
    _, guest_pin = await pins(meeting)
    before = set(meeting.node.participants)
    refused = await meeting.request_token(pin=guest_pin, display_name="Alice Archer")
    assert refused.status_code == 403 and set(meeting.node.participants) == before


async def test_a_members_own_webapp3_link_admits_them_as_themselves(
    meeting: PexipMeeting, service: RunningApp, mattermost: MattermostStandIn
) -> None:
    """With the embedded experience off a member joins through Pexip's web app, whose links
    carry no call tag: their personal link dials their own alias, which carries it."""
    alice_id = mattermost.add_user("alice")
    config = await meeting.page(alice_id)
    member_alias, name, pin = webapp3_parts(str(config["webapp3Url"]))
    _, guest_pin = await pins(meeting)
    assert pin == guest_pin and name == "alice"
    assert member_alias.startswith(alias(meeting.channel) + ".")
    alice = await meeting.join(alice_id, config, call_tag="", to=member_alias)
    made = meeting.node.participants[alice.uuid]
    assert (made.role, made.display_name, made.call_tag) == ("chair", "alice", config["callTag"])
    credited = await service.components.pexip.present_users(ChannelId(meeting.channel))
    assert credited == [alice_id]  # the event sink's report says who she is
    # Someone else's alias is worth nothing with a made-up tag in it.
    refused = await meeting.request_token(
        pin=guest_pin,
        display_name="alice",
        to=f"{alias(meeting.channel)}.mbu.{alice_id}.{'1' * 24}",
    )
    assert refused.status_code == 403


async def guest_joins(meeting: PexipMeeting, link_url: str, name: str) -> Member:
    """A guest opens the link, types a name, and their page joins."""
    path = link_url.removeprefix("https://meetbridge.example.com")
    page = await meeting.service.http.post(path, data={"name": name})
    assert page.status_code == 200, page.text
    return await meeting.join("", guest_page_config(page.text))


async def test_revoking_a_link_changes_the_guest_pin_and_removes_its_guests_if_asked(
    meeting: PexipMeeting, mattermost: MattermostStandIn
) -> None:
    links = meeting.service.components.guest_links
    admin = UserId(mattermost.add_user("root", roles="system_user system_admin"))
    alice = await meeting.join(mattermost.add_user("alice"))
    first = await links.create(ChannelId(meeting.channel), admin, 2)
    second = await links.create(ChannelId(meeting.channel), admin, 2)
    eve = await guest_joins(meeting, first, "Eve")
    zed = await guest_joins(meeting, second, "Zed")
    assert meeting.node.participants[eve.uuid].display_name == "Eve (guest)"
    host_pin, guest_pin = await pins(meeting)
    first_id = str(eve.config["callTag"]).split(".")[1]  # mbg.<link id>.<signature>

    outcome = await links.revoke(first_id, "admin:root", remove_guests=True)
    assert (outcome.revoked, outcome.removed) == (True, 1)
    new_host_pin, new_guest_pin = await pins(meeting)
    assert new_guest_pin != guest_pin and new_host_pin == host_pin
    assert eve.uuid not in meeting.node.participants  # removed
    assert {alice.uuid, zed.uuid} <= set(meeting.node.participants)  # the others stay
    # Eve, or anyone she passed her page to, cannot come back: the PIN it holds is the old one,
    # and with the new one her link's tag is refused.
    for pin in (guest_pin, new_guest_pin):
        again = await meeting.request_token(
            pin=pin, display_name="Eve", call_tag=str(eve.config["callTag"])
        )
        assert again.status_code == 403, (pin == guest_pin, again.text)


async def test_revoking_a_link_without_removing_its_guests_leaves_them_in(
    meeting: PexipMeeting, mattermost: MattermostStandIn
) -> None:
    links = meeting.service.components.guest_links
    await meeting.join(mattermost.add_user("alice"))
    url = await links.create(ChannelId(meeting.channel), UserId(mattermost.add_user("root")), 2)
    eve = await guest_joins(meeting, url, "Eve")
    _, guest_pin = await pins(meeting)
    [link] = await links.active()
    outcome = await links.revoke(link.id, "admin:root", remove_guests=False)
    assert (outcome.revoked, outcome.removed) == (True, 0)
    assert eve.uuid in meeting.node.participants
    assert (await pins(meeting))[1] != guest_pin
    assert not (await links.revoke(link.id, "admin:root", remove_guests=True)).revoked


DIRECT_REFUSAL = {
    "": (
        "A direct message's meeting is only for the two people in it, so it has no guest "
        "links: make one in a channel or a group message."
    ),
    "de": (
        "Eine Besprechung in einer Direktnachricht ist nur für die beiden Personen darin, "
        "deshalb gibt es dort keine Gastlinks: Erstellen Sie einen in einem Kanal oder einer "
        "Gruppennachricht."
    ),
}


async def test_a_guest_link_is_refused_in_a_direct_message_saying_why(
    service: RunningApp, mattermost: MattermostStandIn
) -> None:
    root = mattermost.add_user("root", roles="system_user system_admin")
    direct = mattermost.add_channel(kind="D")
    for locale, sentence in DIRECT_REFUSAL.items():
        mattermost.users[root]["locale"] = locale
        service.components.directory.users.invalidate(UserId(root))
        invocation = Invocation(UserId(root), ChannelId(direct), "t" * 26, "guest-link 2")
        answer = await service.components.interactions.command(invocation)
        assert answer["text"] == sentence
        assert "trigger_id" not in str(answer)  # no confirmation dialog was opened
    assert await service.components.guest_links.active() == []
    assert (await service.components.interactions.command(
        Invocation(UserId(root), ChannelId(mattermost.add_channel("Sales")), "t" * 26, "guest-link 2")
    ))["text"] != DIRECT_REFUSAL[""]  # fmt: skip
